-- wrk script: GET /api/~/ci/health, the Rust server's HTTP floor (the reference's is /healthz);
-- prints the same JSON summary line as the reference's post.lua.
wrk.method = "GET"
wrk.path = "/api/~/ci/health"
function done(summary, latency, requests)
  io.write(string.format(
    "JSON {\"requests\":%d,\"duration_s\":%.3f,\"rps\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"non2xx\":%d,\"errors\":%d}\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
