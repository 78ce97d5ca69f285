/**
 * Estimated completion of a batch (`estCompletion`) from observed rates: the batch's own once it has
 * ingested a member, else the customer's queue's recent throughput.
 */
import type { BatchRecord } from './model';

/** What the queue knows about throughput, for estimating a batch before its own rate is known. */
export interface QueueThroughput {
  /**
   * Members the customer's queue ingests per millisecond recently: the summed observed rates of its
   * active batches, or else the rate of its last finished batch.
   */
  membersPerMs: number;
  /** Members waiting on the batch's queue (its own included). */
  waiting: number;
}

/**
 * Estimated completion, while unfinished. Once the batch has ingested a member: from its own
 * observed rate. Before that (waiting behind another batch, or picked up with nothing done yet):
 * from the queue's recent throughput and the members waiting ahead of and in it. Absent once
 * finished, and when the customer's queue has never ingested anything (no rate to go by).
 */
export function estimateCompletion(batch: BatchRecord, throughput?: QueueThroughput, nowMs = Date.now()): string | undefined {
  if (batch.finished) return undefined;
  const own = observedRate(batch, nowMs);
  if (own !== undefined) return new Date(nowMs + batch.remaining / own).toISOString();
  if (throughput && throughput.membersPerMs > 0) {
    const ahead = batch.started ? batch.remaining : Math.max(throughput.waiting, batch.remaining);
    return new Date(nowMs + ahead / throughput.membersPerMs).toISOString();
  }
  return undefined;
}

/** Whether a batch's estimate needs the queue's throughput (it has no rate of its own yet). */
export function needsQueueThroughput(batch: BatchRecord, nowMs = Date.now()): boolean {
  return !batch.finished && observedRate(batch, nowMs) === undefined;
}

/** Members per ms a started, unfinished batch has ingested since it started, if any. */
function observedRate(batch: BatchRecord, nowMs: number): number | undefined {
  const done = batch.completed + batch.errors;
  if (!batch.started || batch.finished || done <= 0) return undefined;
  const elapsed = nowMs - Date.parse(batch.started);
  return elapsed > 0 ? done / elapsed : undefined;
}

/**
 * The queue's recent throughput in members per ms: the summed rates of the batches being
 * processed now (they share the processors), or else the rate of the last finished batch.
 */
export function throughputOf(
  lastFinished: BatchRecord | undefined,
  active: readonly BatchRecord[] = [],
  nowMs = Date.now(),
): number | undefined {
  const rates = active.flatMap((b) => {
    const rate = observedRate(b, nowMs);
    return rate !== undefined ? [rate] : [];
  });
  if (rates.length > 0) return rates.reduce((a, b) => a + b, 0);
  if (!lastFinished?.started || !lastFinished.finished) return undefined;
  const elapsed = Date.parse(lastFinished.finished) - Date.parse(lastFinished.started);
  return elapsed > 0 ? lastFinished.count / elapsed : undefined;
}
