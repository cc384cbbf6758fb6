#!/usr/bin/python3
"""numpy.fft.rfft throughput on the sizes given (comma-separated), for bench/vib_bench.cpp.
Prints one JSON object: {"numpy": version, "rate": {"n": transforms per second}, "peak_rss_mib": x}.
float32 input (numpy computes in float64 internally, pocketfft)."""
import json, resource, sys, time
import numpy as np

sizes = [int(s) for s in sys.argv[1].split(",")]
rng = np.random.default_rng(7)
rate = {}
for n in sizes:
    x = rng.standard_normal(n).astype(np.float32)
    np.fft.rfft(x)  # plan cache warm-up
    iters, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        for _ in range(16):
            np.fft.rfft(x)
        iters += 16
    rate[str(n)] = iters / (time.perf_counter() - t0)
print(json.dumps({"numpy": np.__version__, "rate": rate,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
