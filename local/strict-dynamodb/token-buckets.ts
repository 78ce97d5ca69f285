/** Continuously refilled token buckets, capacity one second's worth. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly now: () => number,
  ) {}

  level(key: string): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return this.rate;
    const t = this.now();
    bucket.tokens = Math.min(this.rate, bucket.tokens + (Math.max(0, t - bucket.at) / 1000) * this.rate);
    bucket.at = t;
    return bucket.tokens;
  }

  /** Charges `cost` (the level may go negative: reads are charged after the fact). */
  charge(key: string, cost: number): void {
    const level = this.level(key);
    this.buckets.set(key, { tokens: level - cost, at: this.now() });
  }

  /** Charges `cost` if the bucket holds it; false (nothing charged) otherwise. */
  take(key: string, cost: number): boolean {
    if (this.level(key) < cost) return false;
    this.charge(key, cost);
    return true;
  }

  /** Forgets full buckets (a missing bucket is a full one). */
  sweep(): void {
    for (const key of [...this.buckets.keys()]) if (this.level(key) >= this.rate) this.buckets.delete(key);
  }
}
