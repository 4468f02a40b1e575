"""Shared pieces of the benchmarks: percentiles and summaries."""

import statistics


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(samples_ms: list[float]) -> str:
    return (
        f"n={len(samples_ms)} p50={percentile(samples_ms, 0.5):.2f}ms "
        f"p99={percentile(samples_ms, 0.99):.2f}ms mean={statistics.fmean(samples_ms):.2f}ms"
    )
