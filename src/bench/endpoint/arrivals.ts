/** How open-loop requests are spaced in time. */
export const ARRIVALS = ['poisson', 'constant', 'gamma'] as const;
export type Arrival = (typeof ARRIVALS)[number];

/**
 * A generator of gaps (ms) between open-loop sends with mean 1000/rate. `poisson`: exponential gaps (CV 1);
 * `constant`: equal gaps (CV 0); `gamma`: gamma-distributed gaps of shape `burstiness` K (CV 1/√K) — K < 1 is
 * burstier than Poisson, K > 1 smoother, K = 1 is Poisson (vLLM's and AIPerf's `--burstiness`).
 */
export function arrivalGaps(options: {
  rate: number;
  arrival: Arrival;
  burstiness?: number;
  random: () => number;
}): () => number {
  const meanMs = 1000 / options.rate;
  const { random } = options;
  switch (options.arrival) {
    case 'constant':
      return () => meanMs;
    case 'poisson':
      return () => -Math.log(1 - random()) * meanMs;
    case 'gamma': {
      const shape = options.burstiness ?? 1;
      // Gamma(K, θ) has mean Kθ: θ = mean / K keeps the offered rate whatever the burstiness.
      return () => (gammaVariate(shape, random) / shape) * meanMs;
    }
  }
}

/** The coefficient of variation of gaps each arrival process promises: what a run's measured CV is checked against. */
export function expectedInterArrivalCv(arrival: Arrival, burstiness = 1): number {
  if (arrival === 'constant') return 0;
  if (arrival === 'poisson') return 1;
  return 1 / Math.sqrt(burstiness);
}

/** A standard normal variate (Box–Muller). */
function standardNormal(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * A Gamma(shape, 1) variate: Marsaglia and Tsang's squeeze method for shape ≥ 1, and for shape < 1 the boost
 * Gamma(shape) = Gamma(shape + 1) · U^(1/shape) (the same paper).
 */
export function gammaVariate(shape: number, random: () => number): number {
  if (!(shape > 0)) throw new RangeError(`gamma shape must be positive, got ${shape}`);
  if (shape < 1) return gammaVariate(shape + 1, random) * Math.pow(1 - random(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = standardNormal(random);
    const v0 = 1 + c * x;
    if (v0 <= 0) continue;
    const v = v0 * v0 * v0;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** Running mean and variance (Welford) of the gaps between consecutive times, for a measured inter-arrival CV. */
export class GapStats {
  private last: number | null = null;
  private n = 0;
  private mean = 0;
  private m2 = 0;

  add(atMs: number): void {
    if (this.last !== null) {
      const gap = atMs - this.last;
      this.n += 1;
      const delta = gap - this.mean;
      this.mean += delta / this.n;
      this.m2 += delta * (gap - this.mean);
    }
    this.last = atMs;
  }

  /** Sample standard deviation ÷ mean of the gaps; null with fewer than two gaps. */
  get cv(): number | null {
    if (this.n < 2 || this.mean <= 0) return null;
    return Math.sqrt(this.m2 / (this.n - 1)) / this.mean;
  }
}
