/**
 * Submitting a batch: admission, the batch and its members, one message per member, then the end
 * of the enqueueing phase. A batch stays marked `enqueueing` until every message is sent, so a
 * handler that dies midway leaves a trail the sweeper (`resumeEnqueueing`) follows.
 */
import { createHash } from 'node:crypto';
import type { QueueName } from '../config/resources';
import { BatchBeingCreatedError, IdempotencyMismatchError, QueueFullError } from './errors';
import type { AssetInput, BatchRecord, MemberRecord, TaskMessage } from './model';
import type { SubmitStore, WorkQueue } from './ports';

/** Assets checked per supersede task (one Query each). */
export const SUPERSEDE_TASK_SIZE = 100;

export interface SubmitRequest {
  customer: number;
  queue: QueueName;
  assets: AssetInput[];
  idempotencyKey?: string;
  /** Hash of the request body, to tell a retry from a different request with the same key. */
  bodyHash?: string;
  /** The batch whose error members this submit retries (POST …/retry). */
  retryOf?: number;
}

export interface SubmitLimits {
  maxQueueSize: number;
  /**
   * How long after submission a retried POST may finish a batch's enqueueing itself; older, the
   * sweeper may be resuming it (the deployment's REPLAY_WINDOW_SECONDS, config/functions.ts).
   */
  replayWindowSeconds: number;
}

export interface SubmitResult {
  /** True for a new batch, false when an Idempotency-Key returned an existing one. */
  created: boolean;
  batch: BatchRecord;
}

/**
 * Hash of a request body as parsed JSON, so that the same collection re-serialised (other
 * whitespace, other key order) is recognised as the same request: SHA-256 of a canonical
 * serialisation (object keys sorted, no whitespace; array order kept, as member order matters).
 */
export function hashBody(body: string): string {
  let canonical: string;
  try {
    canonical = canonicalJson(JSON.parse(body));
  } catch {
    // Not JSON (validation refuses it first) or nested too deep to walk: its bytes, then.
    canonical = body;
  }
  return createHash('sha256').update(canonical).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The stored form of an Idempotency-Key: scoped by route, so the same key sent to the main and the
 * priority queue names two requests. Main-queue keys are stored as they are (as before this
 * scoping); `#` cannot occur in a client's key (api-submit.ts), so no main key can collide.
 */
export function scopedIdempotencyKey(queue: QueueName, key: string): string {
  return queue === 'main' ? key : `${queue}#${key}`;
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
    tasks.push({
      type: 'supersede',
      customer: batch.customer,
      batch: batch.batch,
      from,
      to: Math.min(batch.count, from + SUPERSEDE_TASK_SIZE),
    });
  }
  return tasks;
}

export async function submitBatch(
  store: SubmitStore,
  work: WorkQueue,
  request: SubmitRequest,
  limits: SubmitLimits,
): Promise<SubmitResult> {
  const { customer, queue, assets } = request;
  const idempotency =
    request.idempotencyKey !== undefined
      ? { key: scopedIdempotencyKey(queue, request.idempotencyKey), hash: request.bodyHash ?? '' }
      : undefined;
  if (idempotency) {
    const existing = await store.findIdempotent(customer, idempotency.key);
    if (existing) return replay(store, work, request, existing, limits);
  }
  const result = await store.createBatch(
    {
      customer,
      queue,
      count: assets.length,
      submitted: new Date().toISOString(),
      ...(idempotency ? { idempotency } : {}),
      ...(request.retryOf !== undefined ? { retryOf: request.retryOf } : {}),
    },
    limits.maxQueueSize,
  );
  if ('queueFull' in result) throw new QueueFullError(customer, result.queueFull.size, result.queueFull.limit, assets.length);
  if ('idempotent' in result) return replay(store, work, request, result.idempotent, limits);
  const batch = result.created;
  await enqueue(store, work, batch, membersOf(batch, assets));
  return { created: true, batch: { ...batch, enqueueing: false } };
}

/**
 * Writes the members, sends their messages and the supersede tasks, then ends enqueueing.
 * A replay (`replay: true`) writes only the members not stored yet, with conditional puts: a stored
 * member may already have been processed, and an unconditional put would reset it to waiting.
 */
async function enqueue(store: SubmitStore, work: WorkQueue, batch: BatchRecord, members: MemberRecord[], replay = false): Promise<void> {
  if (replay) await store.putMembersIfAbsent(members);
  else await store.putMembers(members);
  const messages = members.map(({ customer, batch: b, index }) => ({ customer, batch: b, index }));
  await Promise.all([work.sendMembers(batch.queue, messages), work.sendTasks(supersedeTasks(batch))]);
  // Every member was written, so the processors finish the batch themselves (even before this).
  await store.markEnqueued(batch, members.length);
}

/** A retried POST with a known Idempotency-Key: the same batch, finishing its enqueueing if needed. */
async function replay(
  store: SubmitStore,
  work: WorkQueue,
  request: SubmitRequest,
  existing: { batch: number; hash: string },
  limits: SubmitLimits,
): Promise<SubmitResult> {
  if (existing.hash !== (request.bodyHash ?? '')) throw new IdempotencyMismatchError(request.idempotencyKey, existing.batch);
  const batch = await store.getBatch(request.customer, existing.batch, true);
  if (!batch) throw new BatchBeingCreatedError(request.idempotencyKey);
  if (batch.enqueueing) {
    const age = (Date.now() - Date.parse(batch.submitted)) / 1000;
    // Past this age the sweeper may be resuming the batch at the same time: leave it to the sweeper
    // (it completes the enqueueing of the members written) rather than race it.
    if (age > limits.replayWindowSeconds) return { created: false, batch };
    await enqueue(store, work, batch, membersOf(batch, request.assets), true);
    return { created: false, batch: (await store.getBatch(batch.customer, batch.batch, true)) ?? batch };
  }
  return { created: false, batch };
}

/**
 * Recovery for a batch whose submit handler died before it ended enqueueing: re-sends the messages
 * of members still waiting (duplicates are harmless: processing is exactly-once per member) and
 * shrinks the batch to the members that were actually written.
 */
export async function resumeEnqueueing(store: SubmitStore, work: WorkQueue, batch: BatchRecord): Promise<void> {
  const present = await store.memberRefsOfBatch(batch.customer, batch.batch);
  const waiting = await store.memberRefsOfBatch(batch.customer, batch.batch, 'waiting');
  await Promise.all([work.sendMembers(batch.queue, waiting), work.sendTasks(supersedeTasks(batch))]);
  if (await store.markEnqueued(batch, present.length)) await store.finalizeBatch(batch.customer, batch.batch);
}
