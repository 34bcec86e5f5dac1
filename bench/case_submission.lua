-- wrk script: every request files one application (POST /cases/v1/cases) for the citizens named
-- in the arguments in turn, each with an Idempotency-Key no other request of the run carries.
-- wrk -s case_submission.lua URL -- BODY RUN ROUTED TOKEN1 REGION1 TOKEN2 REGION2 ...
-- RUN makes this round's keys its own; ROUTED "1" sends X-Region-Code, the region of the
-- citizen's handling department (as the app does, having read the item's handler), "0" leaves
-- it out (case-svc then files the application through the gateway once more).

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("index", threads)
end

function init(args)
  body = args[1]
  run = args[2]
  routed = args[3] == "1"
  citizens = {}
  for i = 4, #args - 1, 2 do
    citizens[#citizens + 1] = { authorization = "Bearer " .. args[i], region = args[i + 1] }
  end
  sent = 0
end

function request()
  sent = sent + 1
  local citizen = citizens[(sent + index) % #citizens + 1]
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = citizen.authorization,
    ["Idempotency-Key"] = run .. "-" .. index .. "-" .. sent,
  }
  if routed then
    headers["X-Region-Code"] = citizen.region
  end
  return wrk.format("POST", nil, headers, body)
end
