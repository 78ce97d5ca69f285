/**
 * Operational metrics as CloudWatch Embedded Metric Format (EMF): JSON lines on stdout that Lambda
 * ships to CloudWatch Logs, which turns them into metrics (no PutMetricData call, no permission).
 * Names and dimensions come from lambdas/config/metrics.ts, which the alarms use too.
 *
 * A handler tallies what it saw in an `InvocationMetrics` and publishes it when it ends. The tally
 * is per invocation, not Powertools' shared buffer, because the local runtime runs several
 * invocations at once in one process: publishing fills and flushes the buffer in one synchronous
 * step, so no other invocation's figures can slip in.
 *
 * When EMF is written: in Lambda (AWS_LAMBDA_FUNCTION_NAME set) unless POWERTOOLS_METRICS_DISABLED
 * is true or POWERTOOLS_DEV is set (Powertools' own rules). Elsewhere (the local runtime, tests,
 * scripts) nothing reads stdout as metrics, so nothing is written unless POWERTOOLS_METRICS_DISABLED
 * is set to false explicitly.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS, type OriginFailureKind } from '../config/metrics';
import type { ProcessingStore } from '../domain/ports';
import { logger } from '../observability/logger';

let instance: Metrics | undefined;

/**
 * The one Powertools Metrics instance of this container, created on first use so that it reads the
 * environment the local runtime sets before the first invocation, not the one at import time.
 */
export function emfMetrics(): Metrics {
  instance ??= new Metrics({
    namespace: METRICS.namespace,
    serviceName: process.env[METRICS.serviceEnv] || METRICS.defaultService,
  });
  return instance;
}

/** Whether EMF lines are written at all (see the file comment); read per publish. */
export function metricsWanted(): boolean {
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
  if (disabled !== undefined && disabled.trim() !== '') return true; // Powertools decides (true: off, false: on)
  return Boolean(process.env.AWS_LAMBDA_FUNCTION_NAME);
}

/** What one invocation observed. */
export class InvocationMetrics {
  #imagesDeadLettered = 0;
  #batchesFinished = 0;
  readonly #originFailures = new Map<OriginFailureKind, number>();

  imagesDeadLettered(count: number): void {
    this.#imagesDeadLettered += count;
  }

  batchFinished(): void {
    this.#batchesFinished += 1;
  }

  originFailed(kind: OriginFailureKind): void {
    this.#originFailures.set(kind, (this.#originFailures.get(kind) ?? 0) + 1);
  }

  /**
   * Writes one EMF line per failure kind (a line has one set of dimension values) and one for the
   * counts without a kind, then forgets them. Zero counts are left out: an alarm treats a missing
   * point as not breaching, and idle invocations write nothing. Never throws: losing a metric must
   * not fail the messages the invocation handled.
   */
  publish(): void {
    const failures = [...this.#originFailures];
    const plain = [
      [METRICS.names.imagesDeadLettered, this.#imagesDeadLettered],
      [METRICS.names.batchesFinished, this.#batchesFinished],
    ].filter(([, n]) => (n as number) > 0) as Array<[string, number]>;
    this.#originFailures.clear();
    this.#imagesDeadLettered = 0;
    this.#batchesFinished = 0;
    if ((failures.length === 0 && plain.length === 0) || !metricsWanted()) return;
    const metrics = emfMetrics();
    try {
      for (const [kind, n] of failures) {
        metrics.addDimension(METRICS.failureKindDimension, kind);
        metrics.addMetric(METRICS.names.originFailures, MetricUnit.Count, n);
        metrics.publishStoredMetrics();
      }
      if (plain.length > 0) {
        for (const [name, n] of plain) metrics.addMetric(name, MetricUnit.Count, n);
        metrics.publishStoredMetrics();
      }
    } catch (error) {
      metrics.clearMetrics();
      metrics.clearDimensions();
      logger.warn('could not publish metrics', { error: error as Error });
    }
  }
}

/**
 * Wraps a handler's body: `observed` collects during the invocation and is published when it ends,
 * whether it returned or threw. (A Lambda timeout ends the process first: those figures are lost.)
 */
export function withInvocationMetrics<E, R>(body: (event: E, observed: InvocationMetrics) => Promise<R>): (event: E) => Promise<R> {
  return async (event) => {
    const observed = new InvocationMetrics();
    try {
      return await body(event, observed);
    } finally {
      observed.publish();
    }
  };
}

/**
 * The store with `finalizeBatch` counting the batches it finished. `finalizeBatch` answers true only
 * to the one call that set `finished` (a conditional write), so each batch counts once however many
 * deliveries race to finish it.
 */
export function countingFinishedBatches<S extends Pick<ProcessingStore, 'finalizeBatch'>>(store: S, observed: InvocationMetrics): S {
  const counting = Object.create(store) as S;
  counting.finalizeBatch = async (...args: Parameters<ProcessingStore['finalizeBatch']>) => {
    const finished = await store.finalizeBatch(...args);
    if (finished) observed.batchFinished();
    return finished;
  };
  return counting;
}

/**
 * The kind of an origin failure, from the message lambdas/adapters/origin.ts gave it (its results
 * carry no code; test/unit/metrics.test.ts drives real failures through this so that a reworded
 * message shows up as `other` in a test, not silently in production).
 */
export function originFailureKind(error: string): OriginFailureKind {
  if (/did not respond within/.test(error)) return 'timeout';
  if (/redirect|Location header/i.test(error)) return 'redirect';
  if (/ is not allowed \(/.test(error)) return 'forbidden-address';
  if (/could not be resolved \(temporary/.test(error)) return 'network';
  if (/could not be resolved/.test(error)) return 'dns';
  const status = /answered HTTP (\d)\d\d\b/.exec(error)?.[1];
  if (status === '4') return 'http-4xx';
  if (status === '5') return 'http-5xx';
  if (status !== undefined) return 'invalid-response';
  if (/is larger than/.test(error)) return 'too-large';
  if (/is not a recognised image/.test(error)) return 'not-an-image';
  if (/TLS/.test(error)) return 'tls';
  if (/invalid HTTP response/.test(error)) return 'invalid-response';
  if (/refused the connection|closed the connection|could not be reached|request to .* failed/.test(error)) return 'network';
  if (/not a valid URL|URL scheme|has no host/.test(error)) return 'invalid-url';
  return 'other';
}
