-- wrk script for Roster's token endpoint. With ROSTER_GRANT=refresh_token each thread keeps a
-- queue of refresh tokens (its share of the lines of ROSTER_TOKENS): a request takes the first,
-- and its response puts the rotated one at the end, so every connection follows live chains.
-- With ROSTER_GRANT=client_credentials every request is the same. ROSTER_BASIC is the client's
-- id:secret in base64.
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  grant = os.getenv("ROSTER_GRANT")
  queue = {}
  if grant == "refresh_token" then
    local line_number = 0
    for line in io.lines(os.getenv("ROSTER_TOKENS")) do
      if line ~= "" and line_number % 2 == index then
        table.insert(queue, line)
      end
      line_number = line_number + 1
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("ROSTER_BASIC")
  wrk.body = "grant_type=client_credentials&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
end

function request()
  if grant ~= "refresh_token" then
    return wrk.format()
  end
  local token = table.remove(queue, 1) or "exhausted"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  if grant == "refresh_token" then
    local next_token = body:match('"refresh_token":"([^"]+)"')
    if next_token then
      table.insert(queue, next_token)
    end
  end
end
