/**
 * How watching shows progress: one aggregated bar redrawn in place on a terminal (cli-progress),
 * or a plain line every few seconds when stdout is a file or a pipe (CI logs, scripts).
 */
import { SingleBar } from 'cli-progress';
import { type Batch, totals } from './batch';

export interface ProgressReporter {
  update(batches: readonly Batch[]): void;
  stop(): void;
}

/** Members finished per second since watching began, and the seconds left at that rate. */
function rateAndEta(startedMs: number, firstDone: number, done: number, count: number): { rate: number; eta?: number } {
  const seconds = (Date.now() - startedMs) / 1000;
  const rate = seconds > 0 ? (done - firstDone) / seconds : 0;
  return rate > 0 ? { rate, eta: Math.ceil((count - done) / rate) } : { rate };
}

const formatEta = (eta?: number) => (eta === undefined ? '?' : eta >= 90 ? `${Math.round(eta / 60)} min` : `${eta} s`);

/** The live bar: done / total, completed, errors, cancelled, rate and ETA. */
export function barReporter(stream: NodeJS.WriteStream = process.stdout): ProgressReporter {
  const bar = new SingleBar({
    stream,
    format: '{bar} {value}/{total} | completed {completed} errors {errors} cancelled {cancelled} | {rate}/s | ETA {etaText}',
    hideCursor: true,
    etaBuffer: 50,
  });
  let started: { ms: number; done: number } | undefined;
  // The bar hides the cursor while it draws: give it back when Ctrl-C ends the watch.
  const interrupted = () => {
    bar.stop();
    process.exit(130);
  };
  return {
    update(batches) {
      const t = totals(batches);
      const { rate, eta } = started ? rateAndEta(started.ms, started.done, t.done, t.count) : { rate: 0, eta: undefined };
      const payload = { completed: t.completed, errors: t.errors, cancelled: t.cancelled, rate: rate.toFixed(1), etaText: formatEta(eta) };
      if (!started) {
        started = { ms: Date.now(), done: t.done };
        process.once('SIGINT', interrupted);
        bar.start(t.count, t.done, payload);
      } else {
        bar.setTotal(t.count);
        bar.update(t.done, payload);
      }
    },
    stop: () => {
      process.off('SIGINT', interrupted);
      if (started) bar.stop();
    },
  };
}

/** Plain lines for logs: the first state at once, then at most one line every `everyMs`. */
export function lineReporter(write: (line: string) => void, everyMs = 5_000): ProgressReporter {
  let started: { ms: number; done: number } | undefined;
  let lastLineMs = 0;
  return {
    update(batches) {
      const t = totals(batches);
      started ??= { ms: Date.now(), done: t.done };
      if (lastLineMs !== 0 && Date.now() - lastLineMs < everyMs) return;
      lastLineMs = Date.now();
      const { rate, eta } = rateAndEta(started.ms, started.done, t.done, t.count);
      write(
        `progress: ${t.done}/${t.count} done (${t.completed} completed, ${t.errors} errors, ${t.cancelled} cancelled), ` +
          `${rate.toFixed(1)}/s, ETA ${formatEta(eta)}`,
      );
    },
    stop: () => undefined,
  };
}

/** No output at all (--json: the caller prints the final JSON only). */
export const silentReporter: ProgressReporter = { update: () => undefined, stop: () => undefined };
