-- wrk script: every request is the same data call, its JSON body the script's first argument.
-- wrk -s exchange_call.lua -H "Authorization: Bearer ..." URL -- BODY

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = args[1]
end
