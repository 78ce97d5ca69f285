/**
 * Processing one delivery of member messages (up to 10 from one SQS poll): ingest each member's
 * origin, then record every outcome in grouped transactions with the summed counter deltas.
 * Messages arrive at least once and in any order; a member already in a terminal state is
 * acknowledged without counting again.
 */

import { DEFAULTS } from '../config/resources';
import { logger } from '../observability/logger';
import type { IngestOutcome, Transition } from './accounting';
import { isTerminal } from './accounting';
import type { MemberMessage, MemberRecord } from './model';
import type { BatchState, ProcessingStore } from './ports';

/** What fetching a member's origin found (adapters/origin.ts): the image's facts, or why it failed and whether to try again. */
export type IngestResult =
  | { ok: true; width: number; height: number; mediaType: string; contentLength: number }
  | { ok: false; error: string; retryable: boolean };

export interface DeliveredMessage {
  messageId: string;
  /** Undefined when the body is not a member message. */
  member: MemberMessage | undefined;
  /** How many times SQS has delivered this message, this delivery included. */
  receiveCount: number;
}

const DEFAULT_RETRY_DELAYS = { firstSeconds: DEFAULTS.transientRetrySeconds, maxSeconds: DEFAULTS.transientRetryMaxSeconds };

/** How long to wait before trying a member again after a transient origin failure. */
export interface RetryDelays {
  /** Delay after the first failure; each further failure triples it. */
  firstSeconds: number;
  maxSeconds: number;
}

/**
 * Seconds before a member whose origin failed transiently (refused, timed out, 5xx) is tried
 * again: short and growing (by default 5, 15, 45, 135 s), so a flaky origin delays its batch by
 * minutes at most instead of a visibility timeout per attempt; the last attempt records the error.
 */
export function transientRetryDelaySeconds(receiveCount: number, delays: RetryDelays): number {
  return Math.min(delays.firstSeconds * 3 ** Math.max(0, receiveCount - 1), delays.maxSeconds);
}

export interface ProcessingDeps {
  store: ProcessingStore;
  /**
   * Makes messages visible again after `seconds` instead of the queue's visibility timeout
   * (SQS ChangeMessageVisibility); absent, they wait the whole timeout.
   */
  retryLater?: (messageIds: readonly string[], seconds: number) => Promise<void>;
  /** Default DEFAULTS.transientRetrySeconds / transientRetryMaxSeconds. */
  retryDelays?: RetryDelays;
  ingest: (origin: string) => Promise<IngestResult>;
  /** Members still being ingested after this long are recorded as running. */
  markRunningAfterMs: number;
  /** Receives after which the message would go to the dead-letter queue. */
  maxReceiveCount: number;
}

const refOf = (m: { customer: number; batch: number; index: number }) => `${m.customer}/${m.batch}/${m.index}`;

/** Returns the ids of the messages that must be delivered again. */
export async function processDelivery(deps: ProcessingDeps, messages: readonly DeliveredMessage[]): Promise<string[]> {
  const { store } = deps;
  const failed = new Set<string>();
  const valid = messages.filter((m) => {
    if (!m.member) {
      logger.error('message is not a member message; it will go to the dead-letter queue', { messageId: m.messageId });
      failed.add(m.messageId);
    }
    return m.member !== undefined;
  });
  // A duplicate delivery may put the same member twice in one poll: process it once.
  const messagesByMember = new Map<string, DeliveredMessage[]>();
  for (const m of valid) messagesByMember.set(refOf(m.member!), [...(messagesByMember.get(refOf(m.member!)) ?? []), m]);
  // An eventually consistent read is enough: a stale state only makes a transition's condition fail,
  // and the store then re-reads consistently.
  const members = await store.getMembers(
    valid.map((m) => m.member!),
    false,
  );
  const seen = new Set(members.map(refOf));
  const unseen = valid.map((m) => m.member!).filter((ref) => !seen.has(refOf(ref)));
  // A member written moments ago may not be visible to an eventually consistent read yet.
  if (unseen.length > 0) members.push(...(await store.getMembers(unseen, true)));
  const found = new Map(members.map((m) => [refOf(m), m]));
  for (const [ref, ms] of messagesByMember) {
    if (!found.has(ref)) {
      logger.error('member not found', { member: ref });
      for (const m of ms) failed.add(m.messageId);
    }
  }
  const open = members.filter((m) => !isTerminal(m.state));
  const touched = new Map(
    members.map((m) => [`${m.customer}/${m.batch}`, { customer: m.customer, batch: m.batch, count: undefined as number | undefined }]),
  );
  if (open.length > 0) {
    const batches = await store.getBatchStates(open);
    await store.startBatches(batches.filter((b) => !b.started));
    // A waiting member of a cancelled batch is cancelled, not ingested; one already running finishes.
    const cancelledBatches = new Set(batches.filter((b) => b.cancelledAt).map((b) => `${b.customer}/${b.batch}`));
    const toCancel = open.filter((m) => m.state === 'waiting' && cancelledBatches.has(`${m.customer}/${m.batch}`));
    const todo = open.filter((m) => !toCancel.includes(m));
    for (const b of batches) {
      const entry = touched.get(`${b.customer}/${b.batch}`);
      if (entry) entry.count = b.count;
    }
    const outcomes = await ingestAll(deps, todo);
    const transitions: Transition[] = toCancel.map((member) => ({ member, to: 'cancelled' }));
    const transient: TransientFailure[] = [];
    for (const { member, result } of outcomes) {
      const ms = messagesByMember.get(refOf(member)) ?? [];
      if (result.ok) {
        const { width, height, mediaType, contentLength } = result;
        transitions.push({ member, to: 'completed', outcome: { width, height, mediaType, contentLength } });
      } else if (!result.retryable) {
        transitions.push({ member, to: 'error', outcome: { error: result.error } satisfies IngestOutcome });
      } else {
        transient.push({ member, error: result.error, messages: ms, receiveCount: Math.max(...ms.map((m) => m.receiveCount)) });
      }
    }
    const retries = new Map<number, string[]>();
    const settled = await settleTransientFailures(deps, transient, batches);
    transitions.push(...settled.transitions);
    for (const { member, error, messages: ms, receiveCount } of settled.retry) {
      logger.warn('origin failed; the message will be retried', { member: refOf(member), error, receiveCount });
      const delay = transientRetryDelaySeconds(receiveCount, deps.retryDelays ?? DEFAULT_RETRY_DELAYS);
      for (const m of ms) {
        failed.add(m.messageId);
        retries.set(delay, [...(retries.get(delay) ?? []), m.messageId]);
      }
    }
    if (deps.retryLater) {
      // Best effort: a message whose delay could not be set waits the visibility timeout instead.
      for (const [seconds, ids] of retries) {
        await deps
          .retryLater(ids, seconds)
          .catch((error: unknown) => logger.warn('could not shorten a retry delay', { error: error as Error }));
      }
    }
    // Every batch is started by now (here or by another delivery).
    await store.applyTransitions(
      transitions,
      batches.map((b) => ({ ...b, started: b.started ?? new Date().toISOString() })),
    );
  }
  for (const b of touched.values()) await store.finalizeBatch(b.customer, b.batch, b.count);
  return [...failed];
}

interface TransientFailure {
  member: MemberRecord;
  error: string;
  messages: readonly DeliveredMessage[];
  receiveCount: number;
}

/**
 * Members whose attempt failed transiently (refused, timed out, 5xx). Between two attempts a
 * member is waiting, not in flight: one recorded as running goes back to waiting, showing the
 * error, so a cancel reaches it. Then its batch is read again (consistently, after that write):
 * if it was cancelled meanwhile, the member is cancelled now instead of tried again, so a cancel
 * waits for an attempt in flight at most the origin's timeout, never the retry schedule. Otherwise
 * it is tried again, or recorded as an error on the last receive. A member that another delivery
 * ended meanwhile is left as it is and its message acknowledged.
 */
async function settleTransientFailures(
  deps: ProcessingDeps,
  failures: readonly TransientFailure[],
  batches: readonly BatchState[],
): Promise<{ transitions: Transition[]; retry: TransientFailure[] }> {
  if (failures.length === 0) return { transitions: [], retry: [] };
  const { store } = deps;
  const released = await store.applyTransitions(
    failures.filter((f) => f.member.state === 'running').map(({ member, error }) => ({ member, to: 'waiting', lastError: error })),
    batches,
  );
  await Promise.all(failures.filter((f) => f.member.state === 'waiting').map((f) => store.noteTransientFailure(f.member, f.error)));
  const latest = new Map(
    [...released.applied.map((t) => ({ ...t.member, state: 'waiting' as const })), ...released.skipped].map((m) => [refOf(m), m]),
  );
  const cancelled = new Set(
    (await store.getBatchStates(failures.map((f) => f.member))).filter((b) => b.cancelledAt).map((b) => `${b.customer}/${b.batch}`),
  );
  const transitions: Transition[] = [];
  const retry: TransientFailure[] = [];
  for (const f of failures) {
    const member = latest.get(refOf(f.member)) ?? f.member;
    if (isTerminal(member.state)) continue;
    if (member.state === 'waiting' && cancelled.has(`${member.customer}/${member.batch}`)) {
      transitions.push({ member, to: 'cancelled' });
    } else if (f.receiveCount >= deps.maxReceiveCount) {
      transitions.push({ member, to: 'error', outcome: { error: `${f.error} (gave up after ${f.receiveCount} attempts)` } });
    } else {
      retry.push({ ...f, member });
    }
  }
  return { transitions, retry };
}

/**
 * Ingests every member concurrently. Members still in progress after `markRunningAfterMs` are
 * recorded as running (one grouped transaction), so `imagesWaiting` excludes slow work in flight
 * without paying a write per member for fast work.
 */
async function ingestAll(deps: ProcessingDeps, members: MemberRecord[]) {
  const done = new Set<string>();
  const current = new Map(members.map((m) => [refOf(m), m]));
  let marking: Promise<void> = Promise.resolve();
  const timer = setTimeout(() => {
    const slow = members.filter((m) => !done.has(refOf(m)) && m.state === 'waiting');
    if (slow.length === 0) return;
    marking = deps.store
      .applyTransitions(slow.map((member) => ({ member, to: 'running' as const })))
      .then(({ applied }) => {
        for (const t of applied) current.set(refOf(t.member), { ...t.member, state: 'running' });
      })
      .catch((error: unknown) => logger.warn('could not record members as running', { error: error as Error }));
  }, deps.markRunningAfterMs);
  try {
    const results = await Promise.all(
      members.map(async (member) => {
        const result = await deps
          .ingest(member.origin)
          .catch((error: unknown): IngestResult => ({ ok: false, error: `ingest failed: ${(error as Error).message}`, retryable: true }));
        done.add(refOf(member));
        return { ref: refOf(member), result };
      }),
    );
    clearTimeout(timer);
    await marking;
    return results.map(({ ref, result }) => ({ member: current.get(ref) as MemberRecord, result }));
  } finally {
    clearTimeout(timer);
  }
}

/** The dead-letter path: members whose messages kept failing are recorded as errors. */
export async function recordDeadLetters(store: ProcessingStore, messages: readonly DeliveredMessage[], reason: string): Promise<void> {
  const refs = messages.flatMap((m) => (m.member ? [m.member] : []));
  for (const m of messages) if (!m.member) logger.error('dead-lettered message is not a member message', { messageId: m.messageId });
  const members = (await store.getMembers(refs)).filter((m) => !isTerminal(m.state));
  const unique = [...new Map(members.map((m) => [refOf(m), m])).values()];
  await store.applyTransitions(unique.map((member) => ({ member, to: 'error' as const, outcome: { error: reason } })));
  const batches = new Map(refs.map((r) => [`${r.customer}/${r.batch}`, r]));
  for (const r of batches.values()) await store.finalizeBatch(r.customer, r.batch);
}
