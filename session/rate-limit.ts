/**
 * Per-connection token bucket: `rate` tokens per second refill up to `burst`; each inbound
 * frame takes one. The clock is injected so tests advance time without sleeping.
 */
/** One clock for every bucket (a bound function per bucket would cost each connection one). */
const defaultNow = performance.now.bind(performance);

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    protected readonly burst: number,
    private readonly now: () => number = defaultNow,
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
export class InboundLimit extends TokenBucket {
  // A subclass, not a wrapper: one object per connection instead of two.
  private unpaid = 0;

  admit(): Admission {
    if (this.take()) {
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
