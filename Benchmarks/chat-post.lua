-- wrk script: POST one fixed ~2 KB chat request (a cache hit after the first).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local filler = string.rep("The quick brown fox jumps over the lazy dog. ", 36)
wrk.body = '{"model":"mock-gpt","temperature":0.2,"messages":[' ..
  '{"role":"system","content":"You are a benchmark. ' .. filler .. '"},' ..
  '{"role":"user","content":"Answer from the cache, please."}]}'
-- WRK_API_KEY set: sent as `Authorization: Bearer` (the auth-on runs of Benchmarks/auth-overhead.sh).
local key = os.getenv("WRK_API_KEY")
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
