/**
 * Follows batches until every one has finished. Each round reads every unfinished batch with
 * `?wait=N` (the server answers as soon as the batch finishes, or after N s with its current
 * state); a server without the parameter (400) is polled plainly instead. A round never comes
 * sooner than MIN_ROUND_MS after the last, so a server that ignores `wait` is not hammered.
 */
import type { ApiClient } from './api-client';
import { ApiError } from './api-client';
import type { Batch } from './batch';
import { CliError } from './errors';
import type { ProgressReporter } from './progress';

/** Seconds each long-poll may wait: short enough that the bar moves, while a finish still shows at once. */
const LONG_POLL_SECONDS = 3;
const MIN_ROUND_MS = 1_500;
/** Batches read at once in a round (each is one request, held open by a long-poll). */
const CONCURRENCY = 8;

export interface WatchOptions {
  reporter: ProgressReporter;
  /** Give up (exit 1) after this long; default: wait as long as it takes. */
  timeoutMs?: number;
  /** Shortest time between two rounds of reads. @default 1500 */
  minRoundMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function inPool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Watches the batches at these URLs; resolves with their final states, in the same order. */
export async function watchBatches(client: ApiClient, batchUrls: readonly string[], options: WatchOptions): Promise<Batch[]> {
  let longPoll = true;
  const read = async (url: string): Promise<Batch> => {
    if (longPoll) {
      try {
        return (await client.get<Batch>(`${url}?wait=${LONG_POLL_SECONDS}`)).body;
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 400)) throw error;
        longPoll = false;
      }
    }
    return (await client.get<Batch>(url)).body;
  };

  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  let states = await inPool(batchUrls, CONCURRENCY, (url) => client.get<Batch>(url).then((r) => r.body));
  try {
    options.reporter.update(states);
    while (states.some((b) => !b.finished)) {
      if (Date.now() > deadline)
        throw new CliError(`Gave up waiting after ${Math.round((options.timeoutMs ?? 0) / 1000)} s; the batches are still running.`);
      const roundStarted = Date.now();
      states = await inPool(states, CONCURRENCY, (b) => (b.finished ? Promise.resolve(b) : read(b['@id'])));
      options.reporter.update(states);
      const elapsed = Date.now() - roundStarted;
      const minRoundMs = options.minRoundMs ?? MIN_ROUND_MS;
      if (states.some((b) => !b.finished) && elapsed < minRoundMs) await sleep(minRoundMs - elapsed);
    }
  } finally {
    options.reporter.stop();
  }
  return states;
}
