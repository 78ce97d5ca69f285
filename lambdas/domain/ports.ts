/**
 * The ports the domain talks through. The DynamoDB and SQS adapters implement them; unit tests
 * may use fakes.
 */
import type { QueueName, WorkQueueName } from '../config/resources';
import type { Privilege } from '../config/routes';
import type { Transition } from './accounting';
import type { BatchRecord, CustomerCounters, MemberMessage, MemberRecord, MemberState, TaskMessage } from './model';

export interface MemberRef {
  customer: number;
  batch: number;
  index: number;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, absent on the last page. */
  next?: string;
}

/**
 * How many bytes a page's items may take, and how to measure one (a Lambda response is capped at
 * 6 MB, so a page of large items must stop before its count does). A reader stops before the item
 * that would pass `bytes` and its `next` cursor resumes right at that item; the first item of a
 * page is always taken, so paging always moves on.
 */
export interface PageBudget<T> {
  bytes: number;
  sizeOf(item: T): number;
}

export interface PageRequest<T = unknown> {
  limit: number;
  cursor?: string;
  budget?: PageBudget<T>;
  /**
   * Matching items to pass over before the page starts: page number n (DLCS clients' `?page=n`)
   * passes (n-1)·limit. Readers pass them over reading keys only where they can.
   */
  skip?: number;
}

export interface NewBatch {
  customer: number;
  queue: QueueName;
  count: number;
  submitted: string;
  idempotency?: { key: string; hash: string };
  /** The batch whose error members this one retries: both are linked in the same write. */
  retryOf?: number;
}

export type CreateBatchResult =
  | { created: BatchRecord }
  | { queueFull: { size: number; limit: number } }
  | { idempotent: { batch: number; hash: string } };

export interface TransitionResult {
  /** Transitions that took effect now. */
  applied: Transition[];
  /** Members that were already in a terminal state (or past the requested one): nothing counted. */
  skipped: MemberRecord[];
}

/** What processing needs to know of a batch: its lifecycle, not its counters. */
export type BatchState = Pick<
  BatchRecord,
  'customer' | 'batch' | 'queue' | 'count' | 'submitted' | 'started' | 'finished' | 'enqueueing' | 'cancelledAt'
>;

/** Submitting a batch, replaying an Idempotency-Key, and the sweeper's recovery. */
export interface SubmitStore {
  findIdempotent(customer: number, key: string): Promise<{ batch: number; hash: string } | undefined>;
  /** Allocates the batch id and writes the batch with its counters, subject to admission. */
  createBatch(batch: NewBatch, maxQueueSize: number): Promise<CreateBatchResult>;
  putMembers(members: readonly MemberRecord[]): Promise<void>;
  /** Writes only the members not stored yet (conditional puts): a stored one may have moved on. */
  putMembersIfAbsent(members: readonly MemberRecord[]): Promise<void>;
  /**
   * Ends the enqueueing phase exactly once. When only `present` of the batch's `count` members
   * were written (the submit handler died midway), the batch and counters shrink to match.
   */
  markEnqueued(batch: BatchRecord, present: number): Promise<boolean>;
  getBatch(customer: number, batch: number, consistent?: boolean): Promise<BatchRecord | undefined>;
  /** Batches still enqueueing that were submitted before `before` (ISO time). */
  staleEnqueueing(before: string): Promise<BatchRecord[]>;
  /** Member refs stored for a batch, any state (used by recovery). */
  memberRefsOfBatch(customer: number, batch: number, state?: MemberState): Promise<MemberRef[]>;
  /** Sets `finished` once the batch has no remaining member; the batch if this call finished it. */
  finalizeBatch(customer: number, batch: number, count?: number): Promise<BatchRecord | undefined>;
}

/** Recording what processing found. */
export interface ProcessingStore {
  /**
   * Members by key. `consistent: false` halves the read cost where a stale state is harmless
   * (processing: every transition is conditioned on the state it read).
   */
  getMembers(refs: readonly MemberRef[], consistent?: boolean): Promise<MemberRecord[]>;
  getBatchStates(refs: readonly { customer: number; batch: number }[]): Promise<BatchState[]>;
  /** Records the first pick-up of batches not yet started. */
  startBatches(batches: readonly BatchState[]): Promise<void>;
  /**
   * Applies transitions and their counter deltas atomically; members already past them are skipped.
   * `batches`, the states of their batches just read, saves reading them again.
   */
  applyTransitions(transitions: readonly Transition[], batches?: readonly BatchState[]): Promise<TransitionResult>;
  /**
   * Shows the error of a failed attempt on a member that will be tried again and was never recorded
   * running (one that was goes back to waiting by a transition carrying `lastError`); a member that
   * has moved on is left as it is.
   */
  noteTransientFailure(member: MemberRecord, error: string): Promise<void>;
  /**
   * Finishes the batch if no member remains; the finished batch when this call finished it (one
   * call does, whatever the concurrency). `count`, when known, lets the store read it in one call.
   */
  finalizeBatch(customer: number, batch: number, count?: number): Promise<BatchRecord | undefined>;
}

/** Cancelling a batch: the mark on the batch, then its waiting members, then its finish. */
export interface CancelStore extends Pick<ProcessingStore, 'getMembers' | 'applyTransitions' | 'finalizeBatch'> {
  /**
   * Marks an open batch cancelled (starting it if nobody has) and returns it; a finished or
   * already cancelled batch is returned as it is; undefined when it does not exist.
   */
  markCancelled(customer: number, batch: number): Promise<BatchRecord | undefined>;
  memberRefsOfBatch(customer: number, batch: number, state?: MemberState): Promise<MemberRef[]>;
  getBatch(customer: number, batch: number, consistent?: boolean): Promise<BatchRecord | undefined>;
}

/** Completion notices that a finish marked pending and nobody has published yet. */
export interface NoticeStore {
  /** Finished batches whose notice is pending, finished before `before` (ISO time). */
  pendingNotices(before: string, limit?: number): Promise<BatchRecord[]>;
  noticeSent(customer: number, batch: number): Promise<void>;
}

/** Where completion notices go (an SNS topic). */
export interface CompletionNotices {
  publish(batch: BatchRecord): Promise<void>;
}

/** Marking members that a later batch made no longer current. */
export interface SupersedeStore {
  getMembers(refs: readonly MemberRef[], consistent?: boolean): Promise<MemberRecord[]>;
  /** Member refs of every batch of this asset (oldest first), from the asset index. */
  memberRefsOfAsset(customer: number, space: number, id: string): Promise<MemberRef[]>;
  /** Marks members as no longer current (exactly once each); returns how many changed. */
  supersede(members: readonly MemberRef[], by: number): Promise<number>;
}

/** The read endpoints. */
export interface QueueReader {
  getCustomer(customer: number): Promise<CustomerCounters | undefined>;
  listCustomers(): Promise<CustomerCounters[]>;
  getBatch(customer: number, batch: number, consistent?: boolean): Promise<BatchRecord | undefined>;
  getMembers(refs: readonly MemberRef[], consistent?: boolean): Promise<MemberRecord[]>;
  listBatches(customer: number, page: PageRequest<BatchRecord>): Promise<Page<BatchRecord>>;
  listActiveBatches(customer: number, page: PageRequest<BatchRecord>): Promise<Page<BatchRecord>>;
  listRecentBatches(customer: number, page: PageRequest<BatchRecord>): Promise<Page<BatchRecord>>;
  listMembers(customer: number, batch: number, state: MemberState | 'any', page: PageRequest<MemberRecord>): Promise<Page<MemberRecord>>;
  listQueuedMembers(customer: number, order: 'asc' | 'desc', page: PageRequest<MemberRecord>): Promise<Page<MemberRecord>>;
  memberRefsOfAsset(customer: number, space: number, id: string): Promise<MemberRef[]>;
  /**
   * The member of an asset's newest batch, including a batch whose submit has just been answered
   * (read-after-write: not only from the eventually consistent asset index).
   */
  currentMember(customer: number, space: number, id: string): Promise<MemberRecord | undefined>;
  memberRefsOfBatch(customer: number, batch: number, state?: MemberState): Promise<MemberRef[]>;
}

/** A customer's API key as listed (no secret, no hash). */
export interface ApiKeyInfo {
  key: string;
  customer: number;
  privileges: Privilege[];
  /** ISO-8601 creation time. */
  created: string;
}

/** A stored key with its secret hash, for verification only. */
export interface StoredApiKey extends ApiKeyInfo {
  secretHash: string;
  /** Id of its API Gateway API key (AWS only). */
  usageKeyId?: string;
}

/** A key just created: the only time its secret is known. */
export interface NewApiKey extends ApiKeyInfo {
  secret: string;
}

/** A customer's API keys (the credentials table; lambdas/adapters/key-store.ts). */
export interface KeyStore {
  /** Issues a new key for a customer with these privileges and stores its secret hashed. */
  create(customer: number, privileges: readonly Privilege[]): Promise<NewApiKey>;
  /** The stored key, or undefined when there is none (revoked or never issued). */
  find(key: string): Promise<StoredApiKey | undefined>;
  /** A customer's keys, oldest first. */
  list(customer: number): Promise<ApiKeyInfo[]>;
  /** Deletes a key; false when it does not exist or belongs to another customer. */
  revoke(customer: number, key: string): Promise<boolean>;
}

/** Every port at once: what the DynamoDB adapter implements. */
export interface QueueStore extends SubmitStore, ProcessingStore, SupersedeStore, QueueReader, NoticeStore, CancelStore {}

export interface WorkQueue {
  sendMembers(queue: QueueName, messages: readonly MemberMessage[]): Promise<void>;
  sendTasks(messages: readonly TaskMessage[]): Promise<void>;
  /** Messages on the queue: visible + in flight + delayed. */
  depth(queue: WorkQueueName): Promise<number>;
}
