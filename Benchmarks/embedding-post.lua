-- wrk script: POST one fixed 1-item embeddings request (base64, the openai SDK's default), from
-- Benchmarks/prompts/embedding-hit.json (run from the repository root); a cache hit after the first.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open("Benchmarks/prompts/embedding-hit.json", "r"))
wrk.body = file:read("*a")
file:close()
