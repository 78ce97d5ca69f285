/**
 * Reconcile: recompute every batch's and customer's counters from the members themselves and
 * report where the stored counters drifted. DLCS has a known drift bug in its queue counts; here
 * the counters are kept by the same transactions as member states, and this proves it.
 */
import type { QueueName } from '../config/resources';
import type { BatchRecord, CustomerCounters, MemberRecord } from './model';

export interface Drift {
  /** `customer 3` or `batch 3/17`. */
  subject: string;
  field: string;
  stored: number | boolean;
  expected: number | boolean;
}

export interface ExpectedBatch {
  customer: number;
  batch: number;
  fields: Record<'count' | 'completed' | 'errors' | 'remaining' | 'waiting' | 'current', number>;
  /** The batch has no remaining member but `finished` is not set. */
  shouldFinish: boolean;
}

export interface ExpectedCustomer {
  customer: number;
  fields: Record<string, number>;
}

const cap = (q: QueueName) => (q === 'main' ? 'Main' : 'Priority');

/** Pure: expected counters and the drift from the stored ones. */
export function reconcileCounters(
  customers: readonly CustomerCounters[],
  batches: readonly BatchRecord[],
  members: readonly MemberRecord[],
): { drift: Drift[]; batches: ExpectedBatch[]; customers: ExpectedCustomer[] } {
  const drift: Drift[] = [];
  const membersByBatch = new Map<string, MemberRecord[]>();
  for (const m of members) {
    const key = `${m.customer}/${m.batch}`;
    membersByBatch.set(key, [...(membersByBatch.get(key) ?? []), m]);
  }
  const expectedBatches: ExpectedBatch[] = [];
  const perCustomer = new Map<number, Record<string, number>>();
  const customerFields = (c: number) => {
    let fields = perCustomer.get(c);
    if (!fields) {
      fields = {
        size: 0,
        batchCount: 0,
        batchesWaiting: 0,
        waitingMain: 0,
        waitingPriority: 0,
        runningMain: 0,
        runningPriority: 0,
        pendingMain: 0,
        pendingPriority: 0,
      };
      perCustomer.set(c, fields);
    }
    return fields;
  };
  for (const b of batches) {
    const ms = membersByBatch.get(`${b.customer}/${b.batch}`) ?? [];
    const count = (state: MemberRecord['state']) => ms.filter((m) => m.state === state).length;
    const fields = {
      // While a batch is still enqueueing its members may not all be written yet.
      count: b.enqueueing ? b.count : ms.length,
      completed: count('completed'),
      errors: count('error'),
      cancelled: count('cancelled'),
      remaining: (b.enqueueing ? b.count - ms.length : 0) + count('waiting') + count('running'),
      waiting: (b.enqueueing ? b.count - ms.length : 0) + count('waiting'),
      current: (b.enqueueing ? b.count - ms.length : 0) + ms.filter((m) => m.supersededBy === undefined).length,
    };
    const subject = `batch ${b.customer}/${b.batch}`;
    for (const [field, expected] of Object.entries(fields)) {
      const stored = Number((b as unknown as Record<string, unknown>)[field] ?? 0);
      if (stored !== expected) drift.push({ subject, field, stored, expected });
    }
    const shouldFinish = !b.enqueueing && fields.remaining === 0 && !b.finished;
    if (shouldFinish) drift.push({ subject, field: 'finished', stored: false, expected: true });
    if (b.finished && fields.remaining > 0) drift.push({ subject, field: 'finished', stored: true, expected: false });
    expectedBatches.push({ customer: b.customer, batch: b.batch, fields, shouldFinish });

    const c = customerFields(b.customer);
    const Q = cap(b.queue);
    c.size = (c.size ?? 0) + fields.remaining;
    c.batchCount = (c.batchCount ?? 0) + 1;
    // A batch emptied by recovery (no member written) is never started and does not wait.
    if (!b.started && fields.count > 0) c.batchesWaiting = (c.batchesWaiting ?? 0) + 1;
    c[`waiting${Q}`] = (c[`waiting${Q}`] ?? 0) + fields.waiting;
    c[`running${Q}`] = (c[`running${Q}`] ?? 0) + count('running');
    if (b.enqueueing) c[`pending${Q}`] = (c[`pending${Q}`] ?? 0) + b.count;
  }
  const expectedCustomers: ExpectedCustomer[] = [];
  for (const stored of customers) {
    const fields = customerFields(stored.customer);
    const actual: Record<string, number> = {
      size: stored.size,
      batchCount: stored.batchCount,
      batchesWaiting: stored.batchesWaiting,
      waitingMain: stored.waiting.main,
      waitingPriority: stored.waiting.priority,
      runningMain: stored.running.main,
      runningPriority: stored.running.priority,
      pendingMain: stored.pending.main,
      pendingPriority: stored.pending.priority,
    };
    for (const [field, expected] of Object.entries(fields)) {
      if (actual[field] !== expected) drift.push({ subject: `customer ${stored.customer}`, field, stored: actual[field] ?? 0, expected });
    }
    expectedCustomers.push({ customer: stored.customer, fields });
  }
  return { drift, batches: expectedBatches, customers: expectedCustomers };
}

export function formatDrift(drift: readonly Drift[]): string {
  if (drift.length === 0) return 'no drift: every counter matches its members';
  return drift.map((d) => `${d.subject}: ${d.field} is ${d.stored}, members say ${d.expected}`).join('\n');
}
