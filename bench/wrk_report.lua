-- Prints wrk's latency percentiles in whole microseconds, one per line, so that the
-- bench reads numbers rather than wrk's rounded, unit-suffixed summary.
done = function(summary, latency, requests)
  for _, p in pairs({ 50, 99 }) do
    io.write(string.format("moim-bench p%d_us=%d\n", p, latency:percentile(p)))
  end
end
