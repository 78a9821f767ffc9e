-- wrk script: POST a ~2 KB request to /v1/responses or /v1/chat/completions (WRK_API=responses|chat),
-- the same conversation either way. WRK_MODE=hit sends one fixed body (a cache hit after the first);
-- WRK_MODE=miss makes every body unique (a counter in the prompt), so each one goes upstream.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local filler = string.rep("The quick brown fox jumps over the lazy dog. ", 36)
local api = os.getenv("WRK_API") or "responses"
local miss = os.getenv("WRK_MODE") == "miss"
local n = 0
local function body(prompt)
  if api == "chat" then
    return '{"model":"mock-gpt","temperature":0.2,"messages":[{"role":"system","content":"You are a benchmark. ' ..
      filler .. '"},{"role":"user","content":"' .. prompt .. '"}]}'
  end
  return '{"model":"mock-gpt","temperature":0.2,"instructions":"You are a benchmark. ' .. filler ..
    '","input":"' .. prompt .. '"}'
end
wrk.body = body("Answer from the cache, please.")
request = function()
  if not miss then return wrk.format(nil, nil, nil, wrk.body) end
  n = n + 1
  return wrk.format(nil, nil, nil, body("Unique prompt " .. n .. " " .. math.random(1, 1e9)))
end
