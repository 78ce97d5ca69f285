/**
 * The local gateway's request limits (local/usage-limits.ts), on a clock the test moves: token
 * buckets refill at the plan's rate up to its burst, quotas reset at the period's start (UTC).
 */
import { quotaPeriodStart, TokenBucket, UsageMeter } from '../../local/usage-limits';

const T0 = Date.UTC(2026, 11, 2, 23, 59, 0);

describe('TokenBucket', () => {
  it('lets a burst through, then one request per 1/rate seconds', () => {
    const bucket = new TokenBucket({ rateLimit: 2, burstLimit: 3 }, T0);
    expect([bucket.take(T0), bucket.take(T0), bucket.take(T0), bucket.take(T0)]).toEqual([true, true, true, false]);
    expect(bucket.take(T0 + 400)).toBe(false);
    expect(bucket.take(T0 + 500)).toBe(true);
    // Idle for a long time: back to the burst, never above it.
    const later = T0 + 60_000;
    expect([bucket.take(later), bucket.take(later), bucket.take(later), bucket.take(later)]).toEqual([true, true, true, false]);
  });
});

describe('quotaPeriodStart', () => {
  it('starts days at 00:00 UTC, weeks on Monday, months on the 1st', () => {
    expect(new Date(quotaPeriodStart('DAY', T0)).toISOString()).toBe('2026-12-02T00:00:00.000Z');
    expect(new Date(quotaPeriodStart('WEEK', T0)).toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(new Date(quotaPeriodStart('MONTH', T0)).toISOString()).toBe('2026-12-01T00:00:00.000Z');
  });
});

describe('UsageMeter', () => {
  const limits = {
    customer: { rateLimit: 1000, burstLimit: 1000, quota: { limit: 2, period: 'DAY' as const } },
    admin: { rateLimit: 1, burstLimit: 1 },
    publicQueue: { rateLimit: 1, burstLimit: 1 },
    stage: { rateLimit: 1000, burstLimit: 1000 },
  };

  it('spends a quota per key and gives it back when the period turns', () => {
    let now = T0;
    const meter = new UsageMeter(limits, () => now);
    expect([meter.admitKey('a', false), meter.admitKey('a', false), meter.admitKey('a', false)]).toEqual([
      { ok: true },
      { ok: true },
      { ok: false, reason: 'quota' },
    ]);
    expect(meter.admitKey('b', false)).toEqual({ ok: true });
    now = T0 + 60_000; // past midnight UTC
    expect(meter.admitKey('a', false)).toEqual({ ok: true });
  });

  it('meters admin keys on the admin plan and anonymous calls on the public bucket', () => {
    const meter = new UsageMeter(limits, () => T0);
    expect([meter.admitKey('admin', true), meter.admitKey('admin', true)]).toEqual([{ ok: true }, { ok: false, reason: 'throttled' }]);
    expect([meter.admitPublic(), meter.admitPublic()]).toEqual([{ ok: true }, { ok: false, reason: 'throttled' }]);
  });

  it('caps the whole stage above the keys', () => {
    const meter = new UsageMeter({ ...limits, stage: { rateLimit: 0.001, burstLimit: 2 } }, () => T0);
    expect([meter.admitKey('a', false), meter.admitKey('b', false), meter.admitKey('c', false)].map((v) => v.ok)).toEqual([
      true,
      true,
      false,
    ]);
  });
});
