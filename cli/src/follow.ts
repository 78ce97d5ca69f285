/**
 * Waiting for batches as `submit --wait`, `retry --wait` and `watch` do it: progress while they
 * run (a bar on a terminal, plain lines otherwise, nothing with --json), then a summary and the
 * exit code: 0 when every image completed, 2 when some failed or were cancelled.
 */
import { type Batch, describeBatch, describeTotals, totals } from './batch';
import { EXIT } from './errors';
import { barReporter, lineReporter, silentReporter } from './progress';
import { printJson, printLine, type Session } from './session';
import { watchBatches } from './watch';

export async function followBatches(s: Session, batchUrls: readonly string[]): Promise<number> {
  const reporter = s.json ? silentReporter : process.stdout.isTTY ? barReporter() : lineReporter(printLine);
  const finished = await watchBatches(s.client, batchUrls, { reporter });
  if (s.json) printJson(finished);
  else {
    for (const batch of finished) printLine(describeBatch(batch));
    if (finished.length > 1) printLine(describeTotals(totals(finished)));
  }
  return exitCodeOf(finished);
}

export function exitCodeOf(batches: readonly Batch[]): number {
  const t = totals(batches);
  return t.completed === t.count ? EXIT.ok : EXIT.someFailed;
}
