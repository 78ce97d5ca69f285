/**
 * Submitting a batch: admission, the batch and its members, one message per member, then the end
 * of the enqueueing phase. A batch stays marked `enqueueing` until every message is sent, so a
 * handler that dies midway leaves a trail the sweeper (`resumeEnqueueing`) follows.
 */
import { createHash } from 'node:crypto';
import type { QueueName } from '../config/resources';
import { HttpError } from '../http/problem';
import { faults } from './faults';
import type { AssetInput, BatchRecord, MemberRecord, TaskMessage } from './model';
import type { QueueStore, WorkQueue } from './ports';

/** Assets checked per supersede task (one Query each). */
export const SUPERSEDE_TASK_SIZE = 100;

export interface SubmitRequest {
  customer: number;
  queue: QueueName;
  assets: AssetInput[];
  idempotencyKey?: string;
  /** Hash of the request body, to tell a retry from a different request with the same key. */
  bodyHash?: string;
}

export interface SubmitLimits {
  maxQueueSize: number;
}

export interface SubmitResult {
  /** 201 for a new batch, 200 when an Idempotency-Key returned an existing one. */
  status: 201 | 200;
  batch: BatchRecord;
}

export function hashBody(body: string): string {
  return createHash('sha256').update(body).digest('base64url');
}

export function membersOf(batch: BatchRecord, assets: readonly AssetInput[]): MemberRecord[] {
  return assets.map((asset, index) => ({
    ...asset,
    customer: batch.customer,
    batch: batch.batch,
    index,
    queue: batch.queue,
    state: 'waiting',
    submitted: batch.submitted,
  }));
}

export function supersedeTasks(batch: Pick<BatchRecord, 'customer' | 'batch' | 'count'>): TaskMessage[] {
  const tasks: TaskMessage[] = [];
  for (let from = 0; from < batch.count; from += SUPERSEDE_TASK_SIZE) {
    tasks.push({ type: 'supersede', customer: batch.customer, batch: batch.batch, from, to: Math.min(batch.count, from + SUPERSEDE_TASK_SIZE) });
  }
  return tasks;
}

export async function submitBatch(
  store: QueueStore,
  work: WorkQueue,
  request: SubmitRequest,
  limits: SubmitLimits,
): Promise<SubmitResult> {
  const { customer, queue, assets } = request;
  const idempotency =
    request.idempotencyKey !== undefined ? { key: request.idempotencyKey, hash: request.bodyHash ?? '' } : undefined;
  if (idempotency) {
    const existing = await store.findIdempotent(customer, idempotency.key);
    if (existing) return replay(store, work, request, existing);
  }
  const result = await store.createBatch(
    { customer, queue, count: assets.length, submitted: new Date().toISOString(), ...(idempotency ? { idempotency } : {}) },
    limits.maxQueueSize,
  );
  if ('queueFull' in result) {
    throw new HttpError(
      503,
      `Customer ${customer}'s queue holds ${result.queueFull.size} images; accepting ${assets.length} more would exceed its limit of ${result.queueFull.limit}. Nothing was queued; retry later.`,
      { headers: { 'Retry-After': '60' } },
    );
  }
  if ('idempotent' in result) return replay(store, work, request, result.idempotent);
  const batch = result.created;
  faults.hit('submit:after-batch');
  await enqueue(store, work, batch, membersOf(batch, assets));
  return { status: 201, batch: { ...batch, enqueueing: false } };
}

/**
 * Writes the members, sends their messages and the supersede tasks, then ends enqueueing.
 * `written`: indexes of members already stored (a replay after a crash): they are not written
 * again, since a processor may have moved them on already and a put would reset them to waiting.
 */
async function enqueue(
  store: QueueStore,
  work: WorkQueue,
  batch: BatchRecord,
  members: MemberRecord[],
  written: ReadonlySet<number> = new Set(),
): Promise<void> {
  const unwritten = written.size > 0 ? members.filter((m) => !written.has(m.index)) : members;
  if (faults.isArmed('submit:mid-members')) {
    await store.putMembers(unwritten.slice(0, Math.ceil(unwritten.length / 2)));
    faults.hit('submit:mid-members');
  }
  await store.putMembers(unwritten);
  const messages = members.map(({ customer, batch: b, index }) => ({ customer, batch: b, index }));
  if (faults.isArmed('submit:mid-send')) {
    await work.sendMembers(batch.queue, messages.slice(0, Math.ceil(messages.length / 2)));
    faults.hit('submit:mid-send');
  }
  await Promise.all([work.sendMembers(batch.queue, messages), work.sendTasks(supersedeTasks(batch))]);
  // Every member was written, so the processors finish the batch themselves (even before this).
  await store.markEnqueued(batch, members.length);
}

/** A retried POST with a known Idempotency-Key: the same batch, finishing its enqueueing if needed. */
async function replay(
  store: QueueStore,
  work: WorkQueue,
  request: SubmitRequest,
  existing: { batch: number; hash: string },
): Promise<SubmitResult> {
  if (existing.hash !== (request.bodyHash ?? '')) {
    throw new HttpError(
      422,
      `Idempotency-Key '${request.idempotencyKey}' was already used for a different request body (batch ${existing.batch}).`,
    );
  }
  const batch = await store.getBatch(request.customer, existing.batch, true);
  if (!batch) throw new HttpError(409, `The batch for Idempotency-Key '${request.idempotencyKey}' is still being created; retry.`);
  if (batch.enqueueing) {
    // The first attempt may have written members, and processors may have finished some of them.
    const written = new Set((await store.memberRefsOfBatch(batch.customer, batch.batch)).map((r) => r.index));
    await enqueue(store, work, batch, membersOf(batch, request.assets), written);
    return { status: 200, batch: (await store.getBatch(batch.customer, batch.batch, true)) ?? batch };
  }
  return { status: 200, batch };
}

/**
 * Recovery for a batch whose submit handler died before it ended enqueueing: re-sends the messages
 * of members still waiting (duplicates are harmless: processing is exactly-once per member) and
 * shrinks the batch to the members that were actually written.
 */
export async function resumeEnqueueing(store: QueueStore, work: WorkQueue, batch: BatchRecord): Promise<void> {
  const present = await store.memberRefsOfBatch(batch.customer, batch.batch);
  const waiting = await store.memberRefsOfBatch(batch.customer, batch.batch, 'waiting');
  await Promise.all([
    work.sendMembers(batch.queue, waiting),
    work.sendTasks(supersedeTasks(batch)),
  ]);
  if (await store.markEnqueued(batch, present.length)) await store.finalizeBatch(batch.customer, batch.batch);
}
