-- wrk script for Graph's PATCH /v1.0/users/{id}, as an administrator's script updating contacts
-- sends it: each request gives the next user a new mobile phone and a new alternate address,
-- so every one is a real change with its audit record and notices. The users are the lines of
-- ROSTER_IDS, shared out between the threads so that no two connections change one user at
-- once; ROSTER_TOKEN is the bearer token.
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  ids = {}
  local line_number = 0
  for line in io.lines(os.getenv("ROSTER_IDS")) do
    if line ~= "" and line_number % 2 == index then
      table.insert(ids, line)
    end
    line_number = line_number + 1
  end
  sent = 0
  wrk.method = "PATCH"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("ROSTER_TOKEN")
end

function request()
  sent = sent + 1
  local id = ids[(sent - 1) % #ids + 1]
  local body = string.format(
    '{"mobilePhone":"+44 7400 123%03d","otherMails":["update.%d.%d@fabrikam.com"]}',
    sent % 1000, index, sent)
  return wrk.format(nil, "/v1.0/users/" .. id, nil, body)
end
