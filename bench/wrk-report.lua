-- wrk script: POSTs the file named by env BODY when set (else the request wrk was given), and prints
-- machine-readable totals: requests, errors, non-2xx answers, latency percentiles in microseconds.
-- With env PROM=1 the body is sent as Prometheus's remote write sends it (a snappy protobuf WriteRequest).
local path = os.getenv("BODY")
if path and path ~= "" then
  local f = assert(io.open(path, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  if os.getenv("PROM") == "1" then
    wrk.headers["Content-Type"] = "application/x-protobuf"
    wrk.headers["Content-Encoding"] = "snappy"
    wrk.headers["X-Prometheus-Remote-Write-Version"] = "0.1.0"
  else
    wrk.headers["Content-Type"] = "text/plain"
  end
end

done = function(summary, latency, requests)
  io.write(string.format("REQS %d\n", summary.requests))
  io.write(string.format("ERRS %d %d %d %d %d\n", summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout))
  io.write(string.format("LAT_US %d %d %d\n", latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
