import { deltasFor, isAllowed, type Transition } from '../../lambdas/domain/accounting';
import { estimateCompletion, throughputOf } from '../../lambdas/domain/estimate';
import { emptyCounters } from '../../lambdas/domain/model';
import { transientRetryDelaySeconds } from '../../lambdas/domain/processing';
import { reconcileCounters } from '../../lambdas/domain/reconcile';
import { membersOf, supersedeTasks } from '../../lambdas/domain/submit';
import { aBatch, aMember } from '../support/records';

const member = aMember;
const batch = aBatch;

describe('deltasFor', () => {
  it('sums a delivery into one delta per batch and per customer, starting a batch once', () => {
    // Prepare
    const transitions: Transition[] = [
      { member: member({ index: 0 }), to: 'completed' },
      { member: member({ index: 1 }), to: 'error' },
      { member: member({ index: 2, state: 'running' }), to: 'completed' },
      { member: member({ index: 0, batch: 8, queue: 'priority' }), to: 'running' },
      { member: member({ index: 1, batch: 8, queue: 'priority' }), to: 'cancelled' },
    ];
    // Act
    const { batchDeltas, customerDeltas } = deltasFor(
      transitions,
      new Map([
        ['1/7', {}],
        ['1/8', { started: 'x' }],
      ]),
    );
    // Assess
    expect(batchDeltas).toEqual([
      { customer: 1, batch: 7, waiting: -2, remaining: -3, completed: 2, errors: 1, cancelled: 0, start: true },
      { customer: 1, batch: 8, waiting: -2, remaining: -1, completed: 0, errors: 0, cancelled: 1, start: false },
    ]);
    expect(customerDeltas).toEqual([
      { customer: 1, size: -4, batchesWaiting: -1, waiting: { main: -2, priority: -2 }, running: { main: -1, priority: 1 } },
    ]);
  });

  it('cancels only a member nobody has picked up, and never one that has ended', () => {
    expect(isAllowed('waiting', 'cancelled')).toBe(true);
    expect(isAllowed('running', 'cancelled')).toBe(false);
    expect(isAllowed('cancelled', 'completed')).toBe(false);
    expect(isAllowed('cancelled', 'running')).toBe(false);
  });

  it('refuses transitions out of a terminal state', () => {
    expect(isAllowed('completed', 'error')).toBe(false);
    expect(isAllowed('running', 'running')).toBe(false);
    expect(isAllowed('waiting', 'running')).toBe(true);
    expect(() => deltasFor([{ member: member({ state: 'error' }), to: 'completed' }], new Map())).toThrow(/illegal/);
  });

  it('puts back to waiting only a member in flight, counting it waiting again and no longer running', () => {
    expect(isAllowed('running', 'waiting')).toBe(true);
    expect(isAllowed('waiting', 'waiting')).toBe(false);
    expect(isAllowed('completed', 'waiting')).toBe(false);
    expect(isAllowed('cancelled', 'waiting')).toBe(false);
    const { batchDeltas, customerDeltas } = deltasFor(
      [{ member: member({ state: 'running' }), to: 'waiting', lastError: 'timed out' }],
      new Map([['1/7', { started: 'x' }]]),
    );
    expect(batchDeltas).toEqual([{ customer: 1, batch: 7, waiting: 1, remaining: 0, completed: 0, errors: 0, cancelled: 0, start: false }]);
    expect(customerDeltas).toEqual([
      { customer: 1, size: 0, batchesWaiting: 0, waiting: { main: 1, priority: 0 }, running: { main: -1, priority: 0 } },
    ]);
  });
});

describe('transientRetryDelaySeconds', () => {
  it('triples from the first delay up to the maximum', () => {
    const delays = { firstSeconds: 5, maxSeconds: 100 };
    expect([1, 2, 3, 4, 5].map((n) => transientRetryDelaySeconds(n, delays))).toEqual([5, 15, 45, 100, 100]);
  });
});

describe('estimateCompletion', () => {
  const now = Date.parse('2026-01-01T00:10:00.000Z');

  it('extrapolates the observed rate of a started batch', () => {
    const b = batch({ started: '2026-01-01T00:00:00.000Z', completed: 1, errors: 1, remaining: 2 });
    expect(estimateCompletion(b, undefined, now)).toBe('2026-01-01T00:20:00.000Z');
  });

  it('uses the queue throughput before the batch starts, and nothing once finished', () => {
    expect(estimateCompletion(batch(), { membersPerMs: 0.001, waiting: 10 }, now)).toBe('2026-01-01T00:10:10.000Z');
    expect(estimateCompletion(batch(), undefined, now)).toBeUndefined();
    expect(estimateCompletion(batch({ finished: 'x', remaining: 0 }), { membersPerMs: 1, waiting: 1 }, now)).toBeUndefined();
  });

  it('reads throughput only from finished batches that started', () => {
    expect(throughputOf(batch({ started: '2026-01-01T00:00:00.000Z', finished: '2026-01-01T00:00:04.000Z' }))).toBe(0.001);
    expect(throughputOf(batch({ finished: '2026-01-01T00:00:04.000Z' }))).toBeUndefined();
    expect(throughputOf(undefined)).toBeUndefined();
  });
});

describe('submit helpers', () => {
  it('splits supersede checks into tasks of 100 members', () => {
    expect(supersedeTasks({ customer: 1, batch: 2, count: 250 })).toEqual([
      { type: 'supersede', customer: 1, batch: 2, from: 0, to: 100 },
      { type: 'supersede', customer: 1, batch: 2, from: 100, to: 200 },
      { type: 'supersede', customer: 1, batch: 2, from: 200, to: 250 },
    ]);
  });

  it('makes waiting members in submission order', () => {
    const members = membersOf(batch({ queue: 'priority' }), [
      { id: 'x', space: 1, origin: 'https://e.org/x' },
      { id: 'y', space: 2, origin: 'https://e.org/y', tags: ['t'] },
    ]);
    expect(members.map((m) => [m.index, m.id, m.state, m.queue])).toEqual([
      [0, 'x', 'waiting', 'priority'],
      [1, 'y', 'waiting', 'priority'],
    ]);
  });
});

describe('reconcileCounters', () => {
  const members = [
    member({ index: 0, state: 'completed' }),
    member({ index: 1, state: 'error', supersededBy: 9 }),
    member({ index: 2, state: 'running' }),
    member({ index: 3, state: 'waiting' }),
  ];
  const exact = batch({ completed: 1, errors: 1, remaining: 2, waiting: 1, current: 3, started: 'x' });
  const counters = { ...emptyCounters(1), size: 2, batchCount: 1, waiting: { main: 1, priority: 0 }, running: { main: 1, priority: 0 } };

  it('finds no drift when the counters match the members', () => {
    expect(reconcileCounters([counters], [exact], members).drift).toEqual([]);
  });

  it('reports each drifting field with the stored and the expected value', () => {
    const { drift } = reconcileCounters([{ ...counters, size: 3 }], [{ ...exact, completed: 2 }], members);
    expect(drift).toEqual([
      { subject: 'batch 1/7', field: 'completed', stored: 2, expected: 1 },
      { subject: 'customer 1', field: 'size', stored: 3, expected: 2 },
    ]);
  });

  it('flags a batch with no remaining member that was never finished', () => {
    const done = members.map((m) => ({ ...m, state: 'completed' as const }));
    const stored = batch({ completed: 4, remaining: 0, waiting: 0, current: 3, started: 'x' });
    const { drift } = reconcileCounters([], [stored], done);
    expect(drift).toContainEqual({ subject: 'batch 1/7', field: 'finished', stored: false, expected: true });
  });
});
