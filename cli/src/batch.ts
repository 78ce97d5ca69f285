/** The sums and wording the CLI's commands share about vocab:Batch resources. */
import type { Batch } from './resources';

export type { Batch };

export interface Totals {
  batches: number;
  count: number;
  completed: number;
  errors: number;
  cancelled: number;
  /** Members in a terminal state. */
  done: number;
}

export function totals(batches: readonly Batch[]): Totals {
  const sum = { batches: batches.length, count: 0, completed: 0, errors: 0, cancelled: 0, done: 0 };
  for (const b of batches) {
    sum.count += b.count;
    sum.completed += b.completed;
    sum.errors += b.errors;
    sum.cancelled += b.cancelled ?? 0;
  }
  sum.done = sum.completed + sum.errors + sum.cancelled;
  return sum;
}

/** `1 image`, `2 images`. */
export function images(n: number): string {
  return `${n} image${n === 1 ? '' : 's'}`;
}

/** e.g. `batch 12: 100 images, 98 completed, 2 errors, 0 cancelled, finished 2026-…`. */
export function describeBatch(b: Batch): string {
  const state = b.finished
    ? `finished ${b.finished}`
    : b.estCompletion
      ? `running, estimated completion ${b.estCompletion}`
      : 'not finished';
  const links = [b.retryOf ? `retries ${b.retryOf}` : '', b.retries?.length ? `retried by ${b.retries.join(', ')}` : ''].filter(Boolean);
  return (
    `batch ${b.id}: ${images(b.count)}, ${b.completed} completed, ${b.errors} errors, ${b.cancelled ?? 0} cancelled, ${state}` +
    (b.superseded ? ', superseded' : '') +
    (links.length ? ` (${links.join('; ')})` : '')
  );
}

export function describeTotals(t: Totals): string {
  const outcome = `${t.completed} completed, ${t.errors} errors, ${t.cancelled} cancelled`;
  return `total: ${images(t.count)} in ${t.batches} batch${t.batches === 1 ? '' : 'es'}: ${outcome}`;
}
