/**
 * The domain's store ports (lambdas/domain/ports.ts) in memory, for unit tests of the use cases.
 * It keeps the DynamoDB adapters' rules (lambdas/adapters/dynamo/*), not just their shapes:
 * - a transition is conditioned on the state its caller read: a member that moved on meanwhile is
 *   moved from where it is now if that is still allowed, else skipped (a terminal member is final);
 * - every transition adds its counter deltas (domain/accounting.ts) to its batch and customer at
 *   once, so `drift()` (domain/reconcile.ts) finds counters that disagree with the members; one
 *   back to waiting (running -> waiting) writes its `lastError`, as noteTransientFailure does for a
 *   member still waiting or running;
 * - a batch is started once, finished once (`finalizeBatch` returns it to one caller only) and
 *   cancelled once; supersession marks a member once;
 * - admission refuses a batch that would take the customer past the limit, an Idempotency-Key is
 *   kept, and a retry batch is linked to the batch it retries in the same write.
 * With `replicationLag`, eventually consistent reads (and the asset index) see the store as it was
 * at the last `replicate()` (nothing before the first), as a DynamoDB replica or a GSI may lag
 * behind a write.
 */

import type { QueueName, WorkQueueName } from '../../lambdas/config/resources';
import { batchRef, deltasFor, isAllowed, isTerminal, type Transition } from '../../lambdas/domain/accounting';
import {
  type BatchRecord,
  type CustomerCounters,
  emptyCounters,
  type MemberMessage,
  type MemberRecord,
  type MemberState,
  type TaskMessage,
} from '../../lambdas/domain/model';
import type {
  BatchState,
  CancelStore,
  CreateBatchResult,
  MemberRef,
  NewBatch,
  NoticeStore,
  ProcessingStore,
  QueueReader,
  SubmitStore,
  SupersedeStore,
  TransitionResult,
  WorkQueue,
} from '../../lambdas/domain/ports';
import { type Drift, reconcileCounters } from '../../lambdas/domain/reconcile';

interface Tables {
  customers: Map<number, CustomerCounters>;
  batches: Map<string, BatchRecord>;
  members: Map<string, MemberRecord>;
  /** By `customer#key`. */
  idempotency: Map<string, { batch: number; hash: string }>;
  /** Batch refs whose completion notice is pending. */
  notices: Set<string>;
}

const emptyTables = (): Tables => ({
  customers: new Map(),
  batches: new Map(),
  members: new Map(),
  idempotency: new Map(),
  notices: new Set(),
});
const memberRef = (m: MemberRef) => `${m.customer}/${m.batch}/${m.index}`;
const now = () => new Date().toISOString();
const QUEUE_NAMES: readonly QueueName[] = ['main', 'priority'];
const copy = <T>(value: T): T => structuredClone(value);

/** The reads the use cases make; the paged lists (listBatches, listMembers…) are left to the adapter's tests. */
export type InMemoryReader = Pick<QueueReader, 'getCustomer' | 'getBatch' | 'getMembers' | 'memberRefsOfBatch' | 'memberRefsOfAsset'>;

export class InMemoryQueueStore implements SubmitStore, ProcessingStore, CancelStore, SupersedeStore, NoticeStore, InMemoryReader {
  private readonly tables = emptyTables();
  /** What eventually consistent reads see; the tables themselves when there is no lag. */
  private replica: Tables;

  constructor(private readonly options: { replicationLag?: boolean } = {}) {
    this.replica = options.replicationLag ? emptyTables() : this.tables;
  }

  /** Lets eventually consistent reads catch up with every write so far. */
  replicate(): void {
    if (this.options.replicationLag) this.replica = copy(this.tables);
  }

  /**
   * Stores a batch with its members, its counters and its customer's counted from the members (so
   * they add up whatever the test gives), as if it had been submitted and processed so far.
   */
  add(batch: BatchRecord, members: readonly MemberRecord[] = []): void {
    const having = (state: MemberState) => members.filter((m) => m.state === state).length;
    const remaining = having('waiting') + having('running');
    const stored: BatchRecord = {
      ...copy(batch),
      count: members.length,
      completed: having('completed'),
      errors: having('error'),
      cancelled: having('cancelled'),
      remaining,
      waiting: having('waiting'),
      current: members.filter((m) => m.supersededBy === undefined).length,
    };
    this.tables.batches.set(batchRef(batch.customer, batch.batch), stored);
    for (const m of members) this.tables.members.set(memberRef(m), copy(m));
    const c = this.customer(batch.customer);
    c.batchSeq = Math.max(c.batchSeq, batch.batch);
    c.batchCount += 1;
    c.size += remaining;
    if (!stored.started && stored.count > 0) c.batchesWaiting += 1;
    c.waiting[batch.queue] += having('waiting');
    c.running[batch.queue] += having('running');
    if (stored.enqueueing) c.pending[batch.queue] += stored.count;
  }

  /** Where the stored counters disagree with the members they count (empty when they add up). */
  drift(): Drift[] {
    const { customers, batches, members } = this.tables;
    return reconcileCounters([...customers.values()], [...batches.values()], [...members.values()]).drift;
  }

  /** Batch refs (`customer/batch`) whose completion notice is pending. */
  pendingNoticeRefs(): string[] {
    return [...this.tables.notices];
  }

  // SubmitStore

  async findIdempotent(customer: number, key: string): Promise<{ batch: number; hash: string } | undefined> {
    return copy(this.tables.idempotency.get(`${customer}#${key}`));
  }

  async createBatch(input: NewBatch, maxQueueSize: number): Promise<CreateBatchResult> {
    const { customer, queue, count, submitted } = input;
    if (count > maxQueueSize) return { queueFull: { size: 0, limit: maxQueueSize } };
    const c = this.customer(customer);
    if (c.size + count > maxQueueSize) return { queueFull: { size: c.size, limit: maxQueueSize } };
    // The id is allocated before the batch is written: a refused write leaves it unused.
    c.batchSeq += 1;
    const batch = c.batchSeq;
    const existing = input.idempotency && this.tables.idempotency.get(`${customer}#${input.idempotency.key}`);
    if (existing) return { idempotent: copy(existing) };
    const retried = input.retryOf === undefined ? undefined : this.tables.batches.get(batchRef(customer, input.retryOf));
    if (input.retryOf !== undefined && !retried) throw new Error(`could not create batch ${customer}/${batch}: no batch ${input.retryOf}`);
    // Every member is still to come: waiting, remaining and current.
    const counters = { count, completed: 0, errors: 0, cancelled: 0, remaining: count, waiting: count, current: count };
    const linked = input.retryOf !== undefined ? { retryOf: input.retryOf } : {};
    const record: BatchRecord = { customer, batch, queue, submitted, ...counters, enqueueing: true, ...linked };
    this.tables.batches.set(batchRef(customer, batch), copy(record));
    c.size += count;
    c.waiting[queue] += count;
    c.pending[queue] += count;
    c.batchCount += 1;
    c.batchesWaiting += 1;
    if (input.idempotency) this.tables.idempotency.set(`${customer}#${input.idempotency.key}`, { batch, hash: input.idempotency.hash });
    if (retried) retried.retries = [...(retried.retries ?? []), batch];
    return { created: record };
  }

  async putMembers(members: readonly MemberRecord[]): Promise<void> {
    for (const m of members) this.tables.members.set(memberRef(m), copy(m));
  }

  async putMembersIfAbsent(members: readonly MemberRecord[]): Promise<void> {
    for (const m of members) if (!this.tables.members.has(memberRef(m))) this.tables.members.set(memberRef(m), copy(m));
  }

  async markEnqueued(batch: BatchRecord, present: number): Promise<boolean> {
    const stored = this.tables.batches.get(batchRef(batch.customer, batch.batch));
    if (!stored?.enqueueing) return false;
    const missing = batch.count - present;
    delete stored.enqueueing;
    stored.count -= missing;
    stored.remaining -= missing;
    stored.waiting -= missing;
    stored.current -= missing;
    const c = this.customer(batch.customer);
    c.pending[batch.queue] -= batch.count;
    c.size -= missing;
    c.waiting[batch.queue] -= missing;
    // A batch left with no member at all can never be started, so it stops waiting here.
    if (present === 0 && !batch.started) c.batchesWaiting -= 1;
    return true;
  }

  async getBatch(customer: number, batch: number, consistent = false): Promise<BatchRecord | undefined> {
    return copy(this.view(consistent).batches.get(batchRef(customer, batch)));
  }

  async staleEnqueueing(before: string): Promise<BatchRecord[]> {
    return [...this.tables.batches.values()].filter((b) => b.enqueueing && b.submitted < before).map(copy);
  }

  async memberRefsOfBatch(customer: number, batch: number, state?: MemberState): Promise<MemberRef[]> {
    return [...this.tables.members.values()]
      .filter((m) => m.customer === customer && m.batch === batch && (state === undefined || m.state === state))
      .sort((a, b) => a.index - b.index)
      .map(({ index }) => ({ customer, batch, index }));
  }

  async finalizeBatch(customer: number, batch: number, count?: number): Promise<BatchRecord | undefined> {
    const stored = this.tables.batches.get(batchRef(customer, batch));
    if (!stored || stored.finished) return undefined;
    // As the adapter's shards do: `count` (maybe stale, never smaller) less the members that ended.
    if ((count ?? stored.count) - (stored.count - stored.remaining) > 0) return undefined;
    stored.finished = now();
    this.tables.notices.add(batchRef(customer, batch));
    return copy(stored);
  }

  // ProcessingStore

  async getMembers(refs: readonly MemberRef[], consistent = true): Promise<MemberRecord[]> {
    const { members } = this.view(consistent);
    const unique = [...new Set(refs.map(memberRef))];
    return unique.flatMap((ref) => {
      const found = members.get(ref);
      return found ? [copy(found)] : [];
    });
  }

  async getBatchStates(refs: readonly { customer: number; batch: number }[]): Promise<BatchState[]> {
    const unique = [...new Set(refs.map((r) => batchRef(r.customer, r.batch)))];
    return unique.flatMap((ref) => {
      const found = this.tables.batches.get(ref);
      return found ? [copy(found)] : [];
    });
  }

  async startBatches(batches: readonly BatchState[]): Promise<void> {
    for (const b of batches) {
      const stored = this.tables.batches.get(batchRef(b.customer, b.batch));
      if (b.started || !stored || stored.started) continue;
      stored.started = now();
      this.customer(b.customer).batchesWaiting -= 1;
    }
  }

  async applyTransitions(transitions: readonly Transition[], batches?: readonly BatchState[]): Promise<TransitionResult> {
    // An illegal transition from the state its caller read is a bug, refused as the adapter does.
    deltasFor(transitions, new Map());
    // The adapter's first attempt believes the caller's batch states: one said started is not started
    // again (a caller's wrong state shows as drift); one started meanwhile fails the start's condition.
    const known = new Map(batches?.map((b) => [batchRef(b.customer, b.batch), b.started]));
    const applied: Transition[] = [];
    const skipped: MemberRecord[] = [];
    for (const t of transitions) {
      const stored = this.tables.members.get(memberRef(t.member));
      if (!stored) skipped.push(t.member);
      else if (stored.state === t.member.state) applied.push(this.apply(t, stored, known.get(batchRef(t.member.customer, t.member.batch))));
      // The member moved on since it was read: re-read, it moves from where it is now if still allowed.
      else if (isAllowed(stored.state, t.to)) applied.push(this.apply({ ...t, member: copy(stored) }, stored));
      else skipped.push(copy(stored));
    }
    return { applied, skipped };
  }

  async noteTransientFailure(member: MemberRecord, error: string): Promise<void> {
    const stored = this.tables.members.get(memberRef(member));
    if (stored && (stored.state === 'waiting' || stored.state === 'running')) stored.lastError = error;
  }

  // CancelStore

  async markCancelled(customer: number, batch: number): Promise<BatchRecord | undefined> {
    const stored = this.tables.batches.get(batchRef(customer, batch));
    if (!stored) return undefined;
    if (stored.finished || stored.cancelledAt) return copy(stored);
    stored.cancelledAt = now();
    if (!stored.started) {
      // Its members are leaving, not waiting: the cancel starts the batch, counted out once.
      stored.started = stored.cancelledAt;
      this.customer(customer).batchesWaiting -= 1;
    }
    return copy(stored);
  }

  // SupersedeStore

  async memberRefsOfAsset(customer: number, space: number, id: string): Promise<MemberRef[]> {
    // From the asset index, eventually consistent.
    return [...this.view(false).members.values()]
      .filter((m) => m.customer === customer && m.space === space && m.id === id)
      .sort((a, b) => a.batch - b.batch || a.index - b.index)
      .map(({ batch, index }) => ({ customer, batch, index }));
  }

  async supersede(refs: readonly MemberRef[], by: number): Promise<number> {
    let changed = 0;
    for (const ref of new Set(refs.map(memberRef))) {
      const stored = this.tables.members.get(ref);
      if (!stored || stored.supersededBy !== undefined) continue;
      stored.supersededBy = by;
      this.batchOf(stored).current -= 1;
      changed += 1;
    }
    return changed;
  }

  // NoticeStore

  async pendingNotices(before: string, limit = 100): Promise<BatchRecord[]> {
    return [...this.tables.notices]
      .flatMap((ref) => {
        const b = this.tables.batches.get(ref);
        return b?.finished && b.finished < before ? [copy(b)] : [];
      })
      .slice(0, limit);
  }

  async noticeSent(customer: number, batch: number): Promise<void> {
    this.tables.notices.delete(batchRef(customer, batch));
  }

  // QueueReader (the lookups the use cases make)

  async getCustomer(customer: number): Promise<CustomerCounters | undefined> {
    return copy(this.tables.customers.get(customer));
  }

  private view(consistent: boolean): Tables {
    return consistent ? this.tables : this.replica;
  }

  private customer(customer: number): CustomerCounters {
    let c = this.tables.customers.get(customer);
    if (!c) {
      c = emptyCounters(customer);
      this.tables.customers.set(customer, c);
    }
    return c;
  }

  private batchOf(m: MemberRef): BatchRecord {
    const b = this.tables.batches.get(batchRef(m.customer, m.batch));
    if (!b) throw new Error(`member ${memberRef(m)} has no batch`);
    return b;
  }

  /**
   * Moves `stored` as `t` says (t.member is in stored's state) and adds the deltas to the counters;
   * `knownStarted` is when the caller believed the batch started.
   */
  private apply(t: Transition, stored: MemberRecord, knownStarted?: string): Transition {
    const batch = this.batchOf(stored);
    const at = now();
    const started = knownStarted ?? batch.started;
    const { batchDeltas, customerDeltas } = deltasFor([t], new Map([[batchRef(batch.customer, batch.batch), { started }]]));
    stored.state = t.to;
    if (isTerminal(t.to)) stored.finished = at;
    // What the ingest found (IngestOutcome's fields are member fields); an absent one is not written.
    Object.assign(stored, Object.fromEntries(Object.entries(t.outcome ?? {}).filter(([, value]) => value !== undefined)));
    // Back to waiting after a transient failure: the attempt's error is shown until the member ends.
    if (t.lastError !== undefined) stored.lastError = t.lastError;
    for (const d of batchDeltas) {
      if (d.start) batch.started = at;
      batch.waiting += d.waiting;
      batch.remaining += d.remaining;
      batch.completed += d.completed;
      batch.errors += d.errors;
      batch.cancelled += d.cancelled;
    }
    for (const d of customerDeltas) {
      const c = this.customer(d.customer);
      c.size += d.size;
      c.batchesWaiting += d.batchesWaiting;
      for (const q of QUEUE_NAMES) {
        c.waiting[q] += d.waiting[q];
        c.running[q] += d.running[q];
      }
    }
    return t;
  }
}

/** The work queues in memory: what was sent, in order. */
export class InMemoryWorkQueue implements WorkQueue {
  readonly members: { queue: QueueName; message: MemberMessage }[] = [];
  readonly tasks: TaskMessage[] = [];

  async sendMembers(queue: QueueName, messages: readonly MemberMessage[]): Promise<void> {
    this.members.push(...messages.map((message) => ({ queue, message })));
  }

  async sendTasks(messages: readonly TaskMessage[]): Promise<void> {
    this.tasks.push(...messages);
  }

  async depth(queue: WorkQueueName): Promise<number> {
    return queue === 'tasks' ? this.tasks.length : this.members.filter((m) => m.queue === queue).length;
  }
}
