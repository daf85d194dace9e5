/**
 * Per-connection token bucket: `rate` tokens per second refill up to `burst`; each inbound
 * frame takes one. The clock is injected so tests advance time without sleeping.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when the bucket is empty (the frame must be refused). */
  take(): boolean {
    const t = this.now();
    const elapsed = t - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
      this.last = t;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export type Admission = 'accept' | 'refuse' | 'cut';

/**
 * A connection's inbound limit: its token bucket, plus the refusals not yet paid back
 * (+1 per refused frame, -1 per accepted one). A client that keeps pushing after being told
 * is cut once more than `burst` refusals are unpaid, even when a token refilled mid-flood let
 * a frame through: a count reset by every accepted frame never reached the cut on a slow or
 * loaded server. A client that backs off pays its refusals back and is never cut.
 */
export class InboundLimit {
  private readonly bucket: TokenBucket;
  private unpaid = 0;

  constructor(
    rate: number,
    private readonly burst: number,
    now?: () => number,
  ) {
    this.bucket = new TokenBucket(rate, burst, now);
  }

  admit(): Admission {
    if (this.bucket.take()) {
      if (this.unpaid > 0) this.unpaid -= 1;
      return 'accept';
    }
    return ++this.unpaid > this.burst ? 'cut' : 'refuse';
  }

  /** The refusal just made was the first since the client was last in good standing. */
  get firstRefusal(): boolean {
    return this.unpaid === 1;
  }
}
