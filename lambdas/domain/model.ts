/**
 * The queue's domain model: what is stored for customers, batches and members, and the messages
 * that carry work. Plain data and pure functions only (how it is keyed in DynamoDB is the
 * adapter's: adapters/dynamo/keys.ts).
 */
import type { QueueName } from '../config/resources';

/** `cancelled`: the batch was cancelled before a processor picked the member up (terminal). */
export type MemberState = 'waiting' | 'running' | 'completed' | 'error' | 'cancelled';

/** Fields a client may submit for an asset (vocab:Image), after validation. */
export interface AssetInput {
  id: string;
  space: number;
  origin: string;
  mediaType?: string;
  family?: 'I' | 'T' | 'F';
  string1?: string;
  string2?: string;
  string3?: string;
  number1?: number;
  number2?: number;
  number3?: number;
  tags?: string[];
  roles?: string[];
  maxUnauthorised?: number;
}

/** An asset as submitted in one batch, with what processing recorded about it. */
export interface MemberRecord extends AssetInput {
  customer: number;
  batch: number;
  /** Position in the submitted collection (0-based). */
  index: number;
  queue: QueueName;
  state: MemberState;
  /** ISO-8601 time the batch was submitted. */
  submitted: string;
  width?: number;
  height?: number;
  contentLength?: number;
  error?: string;
  /** The error of the last failed attempt, while the member waits to be tried again. */
  lastError?: string;
  /** ISO-8601 time the member reached a terminal state. */
  finished?: string;
  /** Id of the later batch that made this member no longer current. */
  supersededBy?: number;
}

export interface BatchRecord {
  customer: number;
  batch: number;
  queue: QueueName;
  submitted: string;
  count: number;
  completed: number;
  errors: number;
  /** Members cancelled before they were picked up. */
  cancelled: number;
  /** Members not yet terminal: `completed + errors + cancelled + remaining == count`. */
  remaining: number;
  /** Members not yet picked up by a processor. */
  waiting: number;
  /** Members that are still current in this batch; the batch is superseded when it reaches 0. */
  current: number;
  /** First pick-up of a member. */
  started?: string;
  finished?: string;
  /** True while the submit handler (or the sweeper) has not yet enqueued every member. */
  enqueueing?: boolean;
  /** When a client cancelled the batch: members not picked up since become `cancelled`. */
  cancelledAt?: string;
  /** The batch whose error members this batch retries. */
  retryOf?: number;
  /** Batches created to retry this batch's error members, oldest first. */
  retries?: number[];
}

/** Exact per-customer counters, kept by the same transactions that change member states. */
export interface CustomerCounters {
  customer: number;
  /** Last allocated batch id. */
  batchSeq: number;
  /** Members not yet terminal, kept as its own attribute so admission can condition on it. */
  size: number;
  /** Batches ever submitted (totalItems of the batches collection). */
  batchCount: number;
  /** Batches submitted and not yet started. */
  batchesWaiting: number;
  /** Members not yet picked up, per queue (includes `pending`). */
  waiting: Record<QueueName, number>;
  /** Members being processed, per queue. */
  running: Record<QueueName, number>;
  /** Members of batches whose messages are not all sent yet, per queue. */
  pending: Record<QueueName, number>;
}

export function emptyCounters(customer: number): CustomerCounters {
  return {
    customer,
    batchSeq: 0,
    size: 0,
    batchCount: 0,
    batchesWaiting: 0,
    waiting: { main: 0, priority: 0 },
    running: { main: 0, priority: 0 },
    pending: { main: 0, priority: 0 },
  };
}

/** `size`: members not yet terminal, across both queues. */
export function queueSize(c: CustomerCounters): number {
  return c.size;
}

/** `imagesWaiting`: members not yet picked up. */
export function imagesWaiting(c: CustomerCounters): number {
  return c.waiting.main + c.waiting.priority;
}

export function isSuperseded(b: BatchRecord): boolean {
  return b.count > 0 && b.current <= 0;
}

/** A message on a work queue: one member, by reference (messages stay small). */
export interface MemberMessage {
  customer: number;
  batch: number;
  index: number;
}

/** A message on the tasks queue. */
export type TaskMessage = {
  type: 'supersede';
  customer: number;
  batch: number;
  /** Member index range [from, to) whose assets are checked. */
  from: number;
  to: number;
};
