/**
 * Token bucket per client key: `requests` per `windowMs` refilled continuously, up to `burst` at once.
 * Chosen over fixed windows because it has no boundary bursts, and over sliding logs because it is O(1) per key.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; updated: number }>();
  private readonly ratePerMs: number;

  constructor(
    private readonly options: { requests: number; windowMs: number; burst: number },
    private readonly now: () => number = Date.now,
  ) {
    this.ratePerMs = options.requests / options.windowMs;
  }

  /** Takes one token; returns 0 when allowed, else the seconds until a token is available (for Retry-After). */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.options.burst, updated: now };
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + (now - bucket.updated) * this.ratePerMs);
    bucket.updated = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerMs / 1000));
  }
}
