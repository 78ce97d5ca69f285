/**
 * Pure accounting: how member state transitions change the batch and customer counters. The
 * DynamoDB adapter applies the deltas computed here in the same transaction as the transitions, so
 * counters can never disagree with the member states they summarise.
 */
import type { QueueName } from '../config/resources';
import type { BatchRecord, MemberRecord, MemberState } from './model';

export interface IngestOutcome {
  width?: number;
  height?: number;
  mediaType?: string;
  contentLength?: number;
  error?: string;
}

/** Move one member from the state it is known to be in to another. */
export interface Transition {
  member: MemberRecord;
  /** `waiting` only from `running`: an attempt failed transiently and the member waits for the next. */
  to: MemberState;
  outcome?: IngestOutcome;
  /** With `to: 'waiting'`: the failed attempt's error, shown until the member ends. */
  lastError?: string;
}

export interface BatchDelta {
  customer: number;
  batch: number;
  waiting: number;
  remaining: number;
  completed: number;
  errors: number;
  cancelled: number;
  /** True when this change is the batch's first pick-up (it leaves `batchesWaiting`). */
  start: boolean;
}

export interface CustomerDelta {
  customer: number;
  size: number;
  batchesWaiting: number;
  waiting: Record<QueueName, number>;
  running: Record<QueueName, number>;
}

export const isTerminal = (state: MemberState) => state === 'completed' || state === 'error' || state === 'cancelled';

/** Whether a transition is legal from the member's current state (terminal states are final). */
export function isAllowed(from: MemberState, to: MemberState): boolean {
  if (isTerminal(from)) return false;
  if (from === 'running' && to === 'running') return false;
  // Back to waiting between two attempts: only the processor whose attempt failed puts it back.
  if (to === 'waiting') return from === 'running';
  // Only a member no processor has picked up can be cancelled; one in flight finishes normally.
  if (to === 'cancelled' && from !== 'waiting') return false;
  return true;
}

const batchId = (customer: number, batch: number) => `${customer}/${batch}`;

/**
 * Sums the counter changes of a set of transitions, per batch and per customer.
 * `batches` holds the batches as last read, to know which are being started by this change.
 */
export function deltasFor(
  transitions: readonly Transition[],
  batches: ReadonlyMap<string, Pick<BatchRecord, 'started'>>,
): { batchDeltas: BatchDelta[]; customerDeltas: CustomerDelta[] } {
  const byBatch = new Map<string, BatchDelta>();
  const byCustomer = new Map<number, CustomerDelta>();
  for (const { member, to } of transitions) {
    const from = member.state;
    if (!isAllowed(from, to)) throw new Error(`illegal transition ${from} -> ${to} for ${member.customer}/${member.batch}/${member.index}`);
    const key = batchId(member.customer, member.batch);
    const b =
      byBatch.get(key) ??
      ({
        customer: member.customer,
        batch: member.batch,
        waiting: 0,
        remaining: 0,
        completed: 0,
        errors: 0,
        cancelled: 0,
        start: false,
      } as BatchDelta);
    byBatch.set(key, b);
    const c =
      byCustomer.get(member.customer) ??
      ({
        customer: member.customer,
        size: 0,
        batchesWaiting: 0,
        waiting: { main: 0, priority: 0 },
        running: { main: 0, priority: 0 },
      } as CustomerDelta);
    byCustomer.set(member.customer, c);
    const q = member.queue;
    if (from === 'waiting') {
      b.waiting -= 1;
      c.waiting[q] -= 1;
    } else {
      c.running[q] -= 1;
    }
    if (to === 'running') {
      c.running[q] += 1;
    } else if (to === 'waiting') {
      b.waiting += 1;
      c.waiting[q] += 1;
    } else {
      b.remaining -= 1;
      c.size -= 1;
      if (to === 'completed') b.completed += 1;
      else if (to === 'cancelled') b.cancelled += 1;
      else b.errors += 1;
    }
    if (from === 'waiting' && !b.start && !batches.get(key)?.started) {
      b.start = true;
      c.batchesWaiting -= 1;
    }
  }
  return { batchDeltas: [...byBatch.values()], customerDeltas: [...byCustomer.values()] };
}

export { batchId as batchRef };
