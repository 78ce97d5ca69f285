import { submittedFromOpenKey } from '../../lambdas/adapters/dynamo/keys';
import { daysOf, loadItem, loadKeys, loadRunItems } from '../../lambdas/adapters/operator-store';
import { type CustomerCounters, emptyCounters } from '../../lambdas/domain/model';
import {
  loadPoint,
  loadRun,
  mergePoints,
  orderStatus,
  pageLinks,
  pageOf,
  type QueueLoad,
  queueGroups,
  queueStatus,
  sampleExpiresAt,
  scopeCustomers,
  windowSlices,
  zeroLoad,
} from '../../lambdas/domain/operator';
import { toHttpError } from '../../lambdas/http/domain-errors';
import {
  loadPageUrl,
  parseDateTime,
  parseDuration,
  parseInstant,
  parseLoadQuery,
  resolveTimeRange,
  subtractDuration,
} from '../../lambdas/http/operator-query';

const NOW = new Date('2024-03-31T12:00:00.000Z');
const DAY = 86_400_000;
const iso = (d: Date) => d.toISOString();

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    const answered = toHttpError(error);
    if (answered) return answered.statusCode;
    throw error;
  }
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('did not throw');
}

function counters(
  customer: number,
  values: Partial<Record<'waiting' | 'running' | 'pending', Partial<Record<'main' | 'priority', number>>>>,
): CustomerCounters {
  const c = emptyCounters(customer);
  for (const k of ['waiting', 'running', 'pending'] as const) Object.assign(c[k], values[k] ?? {});
  return c;
}

describe('parseDuration', () => {
  it.each([
    ['PT3H', { hours: 3 }],
    ['PT3H0M0S', { hours: 3 }],
    ['P1D', { days: 1 }],
    ['P2W', { weeks: 2 }],
    ['PT90M', { minutes: 90 }],
    ['PT0.5S', { seconds: 0.5 }],
    ['PT1,5H', { hours: 1.5 }],
    ['P1Y2M3DT4H5M6S', { years: 1, months: 2, days: 3, hours: 4, minutes: 5, seconds: 6 }],
    ['pt3h', { hours: 3 }],
  ])('%s', (text, expected) => {
    expect(parseDuration(text)).toEqual({ years: 0, months: 0, weeks: 0, days: 0, hours: 0, minutes: 0, seconds: 0, ...expected });
  });

  it.each(['P', 'PT', 'P1DT', 'PT3', '3H', 'P-1D', 'PT3H3H', 'P1H', 'P1.5Y', 'PT1D', ''])('refuses %p', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('subtractDuration', () => {
  const d = (text: string) => {
    const parsed = parseDuration(text);
    if (!parsed) throw new Error(text);
    return parsed;
  };
  it('fixed units', () => {
    expect(iso(subtractDuration(NOW, d('PT3H')))).toBe('2024-03-31T09:00:00.000Z');
    expect(iso(subtractDuration(NOW, d('P1DT30M')))).toBe('2024-03-30T11:30:00.000Z');
    expect(iso(subtractDuration(NOW, d('P1W')))).toBe('2024-03-24T12:00:00.000Z');
    expect(iso(subtractDuration(NOW, d('PT0.25S')))).toBe('2024-03-31T11:59:59.750Z');
  });
  it('months on the calendar, clamped to the end of the month', () => {
    expect(iso(subtractDuration(NOW, d('P1M')))).toBe('2024-02-29T12:00:00.000Z');
    expect(iso(subtractDuration(NOW, d('P1Y1M')))).toBe('2023-02-28T12:00:00.000Z');
    expect(iso(subtractDuration(new Date('2024-01-15T00:00:00Z'), d('P2M')))).toBe('2023-11-15T00:00:00.000Z');
  });
});

describe('parseDateTime', () => {
  it.each([
    ['2015-01-01T00:00:00Z', '2015-01-01T00:00:00.000Z'],
    ['2015-01-01T00:00:00.123Z', '2015-01-01T00:00:00.123Z'],
    ['2015-01-01T00:00:00.123456Z', '2015-01-01T00:00:00.123Z'],
    ['2015-01-01T01:00:00+01:00', '2015-01-01T00:00:00.000Z'],
    ['2015-01-01T01:00:00 01:00', '2015-01-01T00:00:00.000Z'], // '+' decoded as a space
    ['2014-12-31T23:00:00-0100', '2015-01-01T00:00:00.000Z'],
    ['2015-01-01T00:00Z', '2015-01-01T00:00:00.000Z'],
    ['2015-01-01T00:00:00', '2015-01-01T00:00:00.000Z'],
    ['2015-01-01 00:00:00Z', '2015-01-01T00:00:00.000Z'],
    ['2015-01-01', '2015-01-01T00:00:00.000Z'],
    ['2024-02-29T00:00:00z', '2024-02-29T00:00:00.000Z'],
  ])('%s', (text, expected) => {
    expect(parseDateTime(text)?.toISOString()).toBe(expected);
  });

  it.each([
    '2015-13-01T00:00:00Z',
    '2015-02-29T00:00:00Z',
    '2015-01-01T24:00:00Z',
    '2015-01-01T00:60:00Z',
    '2015-01-01T00:00:60Z',
    'yesterday',
    '1420070400',
    '2015-1-1',
    '2015-01-01T00Z',
    '2015-01-01T00:00:00+25:00',
  ])('refuses %p', (text) => {
    expect(parseDateTime(text)).toBeUndefined();
  });
});

describe('parseInstant', () => {
  it('durations count back from now, date-times are absolute', () => {
    expect(iso(parseInstant('started', 'PT3H', NOW))).toBe('2024-03-31T09:00:00.000Z');
    expect(iso(parseInstant('started', ' 2015-01-01T00:00:00Z ', NOW))).toBe('2015-01-01T00:00:00.000Z');
  });
  it('400 with the parameter name and the accepted forms', () => {
    expect(statusOf(() => parseInstant('started', 'last week', NOW))).toBe(400);
    const message = messageOf(() => parseInstant('ended', 'PT', NOW));
    expect(message).toContain("'ended'");
    expect(message).toContain('ISO-8601');
    expect(message).toContain("'PT'");
  });
  it('refuses instants outside the years 0000–9999', () => {
    expect(statusOf(() => parseInstant('started', 'P999999Y', NOW))).toBe(400);
  });
});

describe('resolveTimeRange', () => {
  it('defaults to the past week up to now', () => {
    const { started, ended } = resolveTimeRange({}, NOW);
    expect(iso(ended)).toBe(iso(NOW));
    expect(ended.getTime() - started.getTime()).toBe(7 * DAY);
  });
  it('defaults each bound independently', () => {
    expect(iso(resolveTimeRange({ started: 'PT3H' }, NOW).ended)).toBe(iso(NOW));
    expect(iso(resolveTimeRange({ ended: 'P1D' }, NOW).started)).toBe('2024-03-24T12:00:00.000Z');
  });
  it('exactly 31 days is allowed; 31 days and 1 ms is not', () => {
    expect(resolveTimeRange({ started: '2015-01-01T00:00:00Z', ended: '2015-02-01T00:00:00Z' }, NOW).ended.toISOString()).toBe(
      '2015-02-01T00:00:00.000Z',
    );
    expect(statusOf(() => resolveTimeRange({ started: '2015-01-01T00:00:00Z', ended: '2015-02-01T00:00:00.001Z' }, NOW))).toBe(400);
    expect(messageOf(() => resolveTimeRange({ started: 'P32D' }, NOW))).toContain('at most 31 days');
    expect(statusOf(() => resolveTimeRange({ started: 'P31D' }, NOW))).toBeUndefined();
  });
  it('ended before started is refused; equal bounds are a valid (instant) range', () => {
    expect(messageOf(() => resolveTimeRange({ started: '2015-01-02T00:00:00Z', ended: '2015-01-01T00:00:00Z' }, NOW))).toContain(
      "'ended' (2015-01-01T00:00:00.000Z) is before 'started' (2015-01-02T00:00:00.000Z)",
    );
    expect(statusOf(() => resolveTimeRange({ ended: '2015-01-01T00:00:00Z' }, NOW))).toBe(400); // started defaults to now − 7 days
    expect(statusOf(() => resolveTimeRange({ started: '2015-01-01T00:00:00Z', ended: '2015-01-01T00:00:00Z' }, NOW))).toBeUndefined();
  });
});

describe('scopeCustomers and parseLoadQuery', () => {
  const admin = { admin: true };
  const own = { admin: false, customer: 7 };
  it('an admin sees everything or what it asks for', () => {
    expect(scopeCustomers([], admin)).toBeUndefined();
    expect(scopeCustomers([3, 4, 3], admin)).toEqual([3, 4]);
  });
  it('a customer key sees only its own customer', () => {
    expect(scopeCustomers([], own)).toEqual([7]);
    expect(scopeCustomers([7, 7], own)).toEqual([7]);
    expect(statusOf(() => scopeCustomers([8], own))).toBe(403);
    expect(statusOf(() => scopeCustomers([7, 8], own))).toBe(403);
    expect(statusOf(() => scopeCustomers([], { admin: false }))).toBe(403);
  });
  it('parses filters and paging', () => {
    const q = parseLoadQuery(
      { started: ['PT1H'], customer: ['1', '2'], queue: ['priority'], page: ['2'], page_size: ['1000'] },
      admin,
      NOW,
    );
    expect(q).toEqual({
      started: new Date('2024-03-31T11:00:00.000Z'),
      ended: NOW,
      customers: [1, 2],
      queues: ['priority'],
      page: 2,
      pageSize: 1000,
    });
    expect(parseLoadQuery({}, own, NOW)).toMatchObject({ customers: [7], page: 1, pageSize: 100 });
    expect(parseLoadQuery({}, admin, NOW).customers).toBeUndefined();
  });
  it.each([
    [{ queue: ['incoming'] }, "'queue' must be 'main' or 'priority'"],
    [{ customer: ['abc'] }, "'customer' must be an integer"],
    [{ customer: ['-1'] }, "'customer' must be an integer"],
    [{ page_size: ['1001'] }, "'page_size' must be an integer from 1 to 1000"],
    [{ page_size: ['0'] }, "'page_size'"],
    [{ page: ['0'] }, "'page' must be an integer from 1"],
    [{ page: ['x'] }, "'page'"],
    [{ started: ['PT1H', 'PT2H'] }, "'started' may be given only once"],
  ])('400 for %p', (multi, message) => {
    expect(statusOf(() => parseLoadQuery(multi, admin, NOW))).toBe(400);
    expect(messageOf(() => parseLoadQuery(multi, admin, NOW))).toContain(message);
  });
});

describe('load samples', () => {
  const time = '2024-03-31T12:00:00.000Z';
  const counts = (pending_count: number, queued_count: number, running_count: number) => ({ pending_count, queued_count, running_count });

  it('one per customer with any load, both queues in it; queued excludes pending', () => {
    const run = loadRun(
      [
        counters(1, { waiting: { main: 30, priority: 2 }, pending: { main: 10 }, running: { priority: 4 } }),
        counters(3, { running: { main: 1 } }),
      ],
      time,
    );
    expect(run.samples).toEqual([
      { time, customer: 1, load: { main: counts(10, 20, 0), priority: counts(0, 2, 4) } },
      { time, customer: 3, load: { main: counts(0, 0, 1), priority: counts(0, 0, 0) } },
    ]);
    expect(run.total).toEqual({ main: counts(10, 20, 1), priority: counts(0, 2, 4) });
  });
  it('an idle customer has no sample (missing means zero); no sum when every customer is idle', () => {
    const run = loadRun(
      [counters(1, {}), counters(2, { waiting: { priority: 5 } }), counters(3, { waiting: { main: -1 }, running: { main: -2 } })],
      time,
    );
    expect(run.samples.map((s) => s.customer)).toEqual([2]);
    expect(run.total).toEqual({ main: counts(0, 0, 0), priority: counts(0, 5, 0) });
    expect(loadRun([counters(1, {}), counters(2, {})], time)).toEqual({ time, samples: [] });
    expect(loadRun([], time)).toEqual({ time, samples: [] });
  });
  it('queued is never negative', () => {
    expect(loadRun([counters(1, { waiting: { main: 1 }, pending: { main: 3 } })], 't').samples[0]?.load.main).toEqual(counts(3, 0, 0));
  });
  it('expire after the retention period', () => {
    expect(sampleExpiresAt(new Date('2024-01-01T00:00:00.500Z'), 35)).toBe(Date.parse('2024-02-05T00:00:00Z') / 1000);
    expect(sampleExpiresAt(new Date(0), 1)).toBe(86_400);
  });
});

describe('load sample items (adapters/operator-store.ts)', () => {
  const time = '2024-03-31T23:59:00.000Z';
  const load: QueueLoad = {
    main: { pending_count: 0, queued_count: 20, running_count: 3 },
    priority: { pending_count: 1, queued_count: 0, running_count: 0 },
  };

  it('are partitioned by customer (or ALL) and UTC day, sorted by time', () => {
    expect(loadKeys.sample(7, time)).toEqual({ pk: 'LOAD#7#2024-03-31', sk: time });
    expect(loadKeys.sample('ALL', '2024-04-01T00:00:00.000Z')).toEqual({ pk: 'LOAD#ALL#2024-04-01', sk: '2024-04-01T00:00:00.000Z' });
  });
  it('hold only the non-zero counts, under short names, and the TTL', () => {
    expect(loadItem(7, time, load, 99)).toEqual({ pk: 'LOAD#7#2024-03-31', sk: time, mq: 20, mr: 3, pp: 1, expiresAt: 99 });
  });
  it('one per busy customer and one for the sum; none for an idle run', () => {
    const run = loadRun([counters(1, { waiting: { main: 2 } }), counters(2, {}), counters(3, { running: { priority: 1 } })], time);
    expect(loadRunItems(run, 5).map((i) => [i.pk, i.sk])).toEqual([
      ['LOAD#1#2024-03-31', time],
      ['LOAD#3#2024-03-31', time],
      ['LOAD#ALL#2024-03-31', time],
    ]);
    expect(loadRunItems(run, 5)[2]).toEqual({ pk: 'LOAD#ALL#2024-03-31', sk: time, mq: 2, pr: 1, expiresAt: 5 });
    expect(loadRunItems(loadRun([counters(1, {})], time), 5)).toEqual([]);
  });
  it('a range reads the UTC days from its start to its end', () => {
    expect(daysOf(new Date('2024-03-31T23:00:00Z'), new Date('2024-04-01T00:00:00Z'))).toEqual(['2024-03-31', '2024-04-01']);
    expect(daysOf(new Date('2024-03-31T10:00:00Z'), new Date('2024-03-31T10:00:00Z'))).toEqual(['2024-03-31']);
    expect(daysOf(new Date('2024-02-28T00:00:00Z'), new Date('2024-03-01T00:00:00Z'))).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
    // A 31-day range starting mid-day spans 32 days, never more.
    const started = new Date('2024-01-01T12:00:00Z');
    const days = daysOf(started, new Date(started.getTime() + 31 * DAY));
    expect(days).toHaveLength(32);
    expect([days[0], days[31]]).toEqual(['2024-01-01', '2024-02-01']);
  });
});

describe('load points', () => {
  const T1 = '2024-03-31T10:00:00.000Z';
  const T2 = '2024-03-31T10:01:00.000Z';
  const T3 = '2024-03-31T10:02:00.000Z';
  const load = (mq: number, pq: number, mr = 0): QueueLoad => {
    const l = zeroLoad();
    l.main.queued_count = mq;
    l.priority.queued_count = pq;
    l.main.running_count = mr;
    return l;
  };
  it('sum the selected queues of a sample (both by default)', () => {
    expect(loadPoint(T1, load(10, 5, 2))).toEqual({ time: T1, pending_count: 0, queued_count: 15, running_count: 2 });
    expect(loadPoint(T1, load(10, 5, 2), ['priority'])).toEqual({ time: T1, pending_count: 0, queued_count: 5, running_count: 0 });
    expect(loadPoint(T1, load(10, 5, 2), ['main', 'priority'])).toEqual(loadPoint(T1, load(10, 5, 2)));
  });
  it('merge several customers per time, ordered by time; times no customer sampled stay absent', () => {
    const customer1 = [loadPoint(T1, load(10, 5)), loadPoint(T2, load(1, 0))];
    const customer2 = [loadPoint(T3, load(0, 7)), loadPoint(T1, load(20, 0, 2))];
    expect(mergePoints([...customer2, ...customer1])).toEqual([
      { time: T1, pending_count: 0, queued_count: 35, running_count: 2 },
      { time: T2, pending_count: 0, queued_count: 1, running_count: 0 },
      { time: T3, pending_count: 0, queued_count: 7, running_count: 0 },
    ]);
    // The inputs are not changed by summing (the first point of a time is copied, not added into).
    expect(customer2[1]?.queued_count).toBe(20);
    expect(mergePoints([])).toEqual([]);
  });
});

describe('paging', () => {
  const items = [1, 2, 3, 4, 5];
  it('pages with neighbours', () => {
    expect(pageOf(items, 1, 2)).toEqual({ count: 5, results: [1, 2], next: 2 });
    expect(pageOf(items, 2, 2)).toEqual({ count: 5, results: [3, 4], next: 3, previous: 1 });
    expect(pageOf(items, 3, 2)).toEqual({ count: 5, results: [5], previous: 2 });
    expect(pageOf(items, 9, 2)).toEqual({ count: 5, results: [], previous: 3 });
    expect(pageOf([], 1, 100)).toEqual({ count: 0, results: [] });
    expect(pageLinks(5, 2, 2)).toEqual({ next: 3, previous: 1 });
    expect(pageLinks(0, 3, 100)).toEqual({ previous: 1 });
  });
  it('reads a window only from the days holding it', () => {
    const perDay = [3, 0, 2, 4];
    expect(windowSlices(perDay, 0, 2)).toEqual([{ group: 0, offset: 0, limit: 2 }]);
    expect(windowSlices(perDay, 2, 2)).toEqual([
      { group: 0, offset: 2, limit: 1 },
      { group: 2, offset: 0, limit: 1 }, // the empty day is passed over
    ]);
    expect(windowSlices(perDay, 3, 2)).toEqual([{ group: 2, offset: 0, limit: 2 }]);
    expect(windowSlices(perDay, 4, 100)).toEqual([
      { group: 2, offset: 1, limit: 1 },
      { group: 3, offset: 0, limit: 4 },
    ]);
    expect(windowSlices(perDay, 8, 5)).toEqual([{ group: 3, offset: 3, limit: 1 }]);
    expect(windowSlices(perDay, 9, 5)).toEqual([]);
    expect(windowSlices([], 0, 5)).toEqual([]);
  });
  it('links resolve durations to instants and keep the filters', () => {
    const query = parseLoadQuery({ started: ['PT1H'], customer: ['1', '2'], queue: ['main'], page_size: ['2'] }, { admin: true }, NOW);
    const url = new URL(loadPageUrl('http://localhost:3000', query, 3, { customers: true, pageSize: true }));
    expect(url.origin + url.pathname).toBe('http://localhost:3000/queue/load');
    expect(url.searchParams.get('started')).toBe('2024-03-31T11:00:00.000Z');
    expect(url.searchParams.get('ended')).toBe('2024-03-31T12:00:00.000Z');
    expect(url.searchParams.getAll('customer')).toEqual(['1', '2']);
    expect(url.searchParams.getAll('queue')).toEqual(['main']);
    expect(url.searchParams.get('page_size')).toBe('2');
    expect(url.searchParams.get('page')).toBe('3');
    const own = parseLoadQuery({}, { admin: false, customer: 7 }, NOW);
    const implicit = new URL(loadPageUrl('https://x.example/prod', own, 2, { customers: false, pageSize: false }));
    expect(implicit.pathname).toBe('/prod/queue/load');
    expect(implicit.searchParams.has('customer')).toBe(false);
    expect(implicit.searchParams.has('page_size')).toBe(false);
  });
});

describe('queue status', () => {
  it('groups customers × queues with members waiting', () => {
    expect(
      queueGroups([
        counters(1, { waiting: { main: 2 }, running: { main: 1 } }),
        counters(2, { running: { priority: 4 } }),
        counters(3, {}),
      ]),
    ).toEqual([
      // Waiting members only: running ones are no longer queued (customer 2 has none waiting).
      { customer: 1, queue: 'main', count: 2 },
    ]);
  });
  it('priority beats main; ordered by count, then priority, then customer', () => {
    const t = '2024-03-31T10:00:00.000Z';
    const ordered = orderStatus([
      queueStatus({ customer: 3, queue: 'main', count: 3 }, t),
      queueStatus({ customer: 1, queue: 'main', count: 3 }, t),
      queueStatus({ customer: 2, queue: 'priority', count: 1 }, undefined),
      queueStatus({ customer: 9, queue: 'priority', count: 3 }, t),
      queueStatus({ customer: 5, queue: 'main', count: 10 }, t),
    ]);
    expect(ordered.map((e) => [e.customer, e.queue, e.count, e.highest_priority])).toEqual([
      [5, 'main', 10, 1],
      [9, 'priority', 3, 2],
      [1, 'main', 3, 1],
      [3, 'main', 3, 1],
      [2, 'priority', 1, 2],
    ]);
    expect(ordered[4]?.longest_queued).toBeNull();
    expect(ordered[0]?.longest_queued).toBe(t);
  });
  it('reads the submission time out of an open-batch key', () => {
    expect(submittedFromOpenKey('2024-03-31T10:00:00.123Z#000000000042')).toBe('2024-03-31T10:00:00.123Z');
  });
});
