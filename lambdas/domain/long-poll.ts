/**
 * Long-polling a batch (`GET …/batches/{b}?wait=N`): answer as soon as it finishes, or after N
 * seconds with its state then. The batch is read again after 250 ms, 500 ms, then every second:
 * at most four reads in the first second and one a second after, so a waiting client costs a
 * few read units, and N ≤ 20 ends well inside API Gateway's 29 s.
 */
import { sleep } from './async';

export const LONG_POLL_SECONDS = { min: 1, max: 20 } as const;
const FIRST_INTERVAL_MS = 250;
const MAX_INTERVAL_MS = 1_000;

/** Reads with `read` until `done` holds or `waitMs` has passed; returns the last read. */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, waitMs: number): Promise<T> {
  const deadline = Date.now() + waitMs;
  let value = await read();
  for (let interval = FIRST_INTERVAL_MS; !done(value); interval = Math.min(interval * 2, MAX_INTERVAL_MS)) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(interval, left));
    value = await read();
  }
  return value;
}
