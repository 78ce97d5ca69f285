/**
 * API Gateway's request limits, emulated by the local gateway with the numbers the stack deploys
 * (`USAGE_LIMITS`): a token bucket per usage identifier (the API key the authorizer names: one per
 * customer key, one shared by admin keys) with the plan's quota per UTC day/week/month, a bucket of
 * its own for the public `GET /queue`, and one for the whole stage. A request that finds a bucket
 * empty or the quota spent is answered 429, as API Gateway does.
 */
import { type ThrottleLimits, USAGE_LIMITS, type UsageLimits } from '../lambdas/config/resources';

export interface LocalUsageLimits {
  customer: UsageLimits;
  admin: UsageLimits;
  publicQueue: ThrottleLimits;
  stage: ThrottleLimits;
}

export const DEFAULT_LOCAL_USAGE_LIMITS: LocalUsageLimits = USAGE_LIMITS;

/** A token bucket: `burstLimit` tokens, refilled at `rateLimit` per second. */
export class TokenBucket {
  private tokens: number;
  private updated: number;

  constructor(
    private readonly limits: ThrottleLimits,
    now: number,
  ) {
    this.tokens = limits.burstLimit;
    this.updated = now;
  }

  /** Takes a token; false when none is left. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.updated) / 1000;
    this.tokens = Math.min(this.limits.burstLimit, this.tokens + elapsed * this.limits.rateLimit);
    this.updated = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The start of the quota period holding `now` (UTC; weeks start on Monday, as API Gateway's). */
export function quotaPeriodStart(period: 'DAY' | 'WEEK' | 'MONTH', now: number): number {
  const d = new Date(now);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (period === 'DAY') return day;
  if (period === 'MONTH') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const sinceMonday = (d.getUTCDay() + 6) % 7;
  return day - sinceMonday * 86_400_000;
}

export type LimitVerdict = { ok: true } | { ok: false; reason: 'throttled' | 'quota' };

interface KeyState {
  bucket: TokenBucket;
  periodStart: number;
  used: number;
}

export class UsageMeter {
  private readonly keys = new Map<string, KeyState>();
  private readonly stage: TokenBucket;
  private readonly publicQueue: TokenBucket;

  constructor(
    private readonly limits: LocalUsageLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.stage = new TokenBucket(limits.stage, now());
    this.publicQueue = new TokenBucket(limits.publicQueue, now());
  }

  /** A request without credentials to the public route. */
  admitPublic(): LimitVerdict {
    const now = this.now();
    if (!this.stage.take(now) || !this.publicQueue.take(now)) return { ok: false, reason: 'throttled' };
    return { ok: true };
  }

  /** A request metered by a usage identifier, on the admin plan or the customer plan. */
  admitKey(usageKey: string, admin: boolean): LimitVerdict {
    const now = this.now();
    const plan = admin ? this.limits.admin : this.limits.customer;
    let state = this.keys.get(usageKey);
    if (!state) {
      state = { bucket: new TokenBucket(plan, now), periodStart: 0, used: 0 };
      this.keys.set(usageKey, state);
    }
    if (plan.quota) {
      const start = quotaPeriodStart(plan.quota.period, now);
      if (start !== state.periodStart) {
        state.periodStart = start;
        state.used = 0;
      }
      if (state.used >= plan.quota.limit) return { ok: false, reason: 'quota' };
    }
    if (!this.stage.take(now) || !state.bucket.take(now)) return { ok: false, reason: 'throttled' };
    state.used += 1;
    return { ok: true };
  }
}
