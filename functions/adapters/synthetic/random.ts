/**
 * Seeded randomness for synthetic traffic. Every draw comes from a stream named by its purpose
 * (seed, version, period, what), so the numbers of one period are the same whichever window asks
 * for them, and adding a draw in one place does not shift every other number.
 */

/** A stream of uniform numbers in [0, 1). */
export type Uniform = () => number;

/** 32-bit FNV-1a hash of a string, for naming streams. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: small, fast, good enough for traffic noise (not for cryptography). */
export function mulberry32(seed: number): Uniform {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The stream for one purpose, e.g. `stream(42, 'canary', 17, 'requests')`. */
export function stream(seed: number, ...name: readonly (string | number)[]): Uniform {
  return mulberry32(hash32(`${seed}|${name.join('|')}`));
}

/** A standard normal draw (Box-Muller). */
export function normal(u: Uniform): number {
  const u1 = 1 - u(); // (0, 1], so the log is finite
  const u2 = u();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * A Poisson draw with mean `lambda`: Knuth's product method below 30, the normal approximation
 * (rounded, never negative) above, where it is within a fraction of a percent.
 */
export function poisson(u: Uniform, lambda: number): number {
  if (!(lambda > 0)) return 0;
  if (lambda < 30) {
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = u();
    while (p > limit) {
      k++;
      p *= u();
    }
    return k;
  }
  return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal(u)));
}

/**
 * A binomial draw of `n` trials with probability `p`: exact Bernoulli trials for small n, the
 * Poisson approximation when n·p is small, the normal approximation otherwise; always in [0, n].
 */
export function binomial(u: Uniform, n: number, p: number): number {
  if (n <= 0 || !(p > 0)) return 0;
  if (p >= 1) return n;
  if (n <= 100) {
    let k = 0;
    for (let i = 0; i < n; i++) if (u() < p) k++;
    return k;
  }
  const mean = n * p;
  if (mean < 30) return Math.min(n, poisson(u, mean));
  if (n * (1 - p) < 30) return n - Math.min(n, poisson(u, n * (1 - p)));
  return Math.min(n, Math.max(0, Math.round(mean + Math.sqrt(mean * (1 - p)) * normal(u))));
}
