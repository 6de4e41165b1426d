// Order statistics for the speed scripts: medians of repeated runs, latency percentiles.

/** The value below which `fraction` of the samples lie (nearest rank; 0.5 = median of an odd count). */
export function percentile(samples: ArrayLike<number>, fraction: number): number {
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] as number;
}

/** The middle sample (the upper middle one for an even count). */
export function median(samples: ArrayLike<number>): number {
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.floor(sorted.length / 2)] as number;
}
