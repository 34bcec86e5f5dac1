-- wrk script: each thread (one connection) refreshes one session again and again, each answer's
-- refresh token being the next one to spend. The first tokens come as the script's arguments,
-- one per thread: wrk -t N -c N -s refresh_chain.lua URL -- TOKEN1 ... TOKENN
-- A refusal ends that session's chain: wrk counts it as a non-2xx answer and the thread stops.

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("index", threads)
end

function init(args)
  token = args[index]
  failed = false
end

function request()
  if failed then
    wrk.thread:stop()
  end
  return wrk.format(
    "POST", nil,
    { ["Content-Type"] = "application/x-www-form-urlencoded" },
    "grant_type=refresh_token&refresh_token=" .. token
  )
end

function response(status, headers, body)
  local next_token = status == 200 and body:match('"refresh_token":"([^"]+)"')
  if next_token then
    token = next_token
  else
    failed = true
  end
end
