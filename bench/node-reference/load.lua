-- wrk script for run-bench.sh. Default: POST the encrypt-override route with the token in
-- $TOKEN_FILE. With GET_PATH set: GET that path instead (the HTTP floor, no crypto).
-- Either way, prints one `JSON {...}` summary line that run-bench.sh collects.
local get_path = os.getenv("GET_PATH")
if get_path and get_path ~= "" then
  wrk.method = "GET"
  wrk.path = get_path
else
  local f = assert(io.open(assert(os.getenv("TOKEN_FILE"), "TOKEN_FILE is not set"), "r"))
  local token = f:read("*a"):gsub("%s+$", "")
  f:close()
  wrk.method = "POST"
  wrk.path = "/api/~/ci/flags/encrypt-override"
  wrk.body = '{"flags":{"newCheckout":true,"beta":false}}'
  wrk.headers["content-type"] = "application/json"
  wrk.headers["x-github-oidc-token"] = token
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format(
    'JSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non2xx":%d,"errors":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
