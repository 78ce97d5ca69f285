/**
 * The custom CloudWatch metrics: what the handlers emit (Embedded Metric Format log lines, see
 * lambdas/adapters/metrics.ts) and what the alarms in lib/constructs/monitoring.ts watch. One
 * definition for both sides, so that renaming a metric or a dimension cannot leave an alarm
 * watching a metric nobody publishes. Plain data: the CDK app imports it.
 */

export const METRICS = {
  namespace: 'ImageQueue',
  /**
   * Powertools adds this dimension to every metric. The stack sets it (through `serviceEnv`) to the
   * stack name, so two stacks in one account (`-c stage=dev`) keep their metrics, and alarms, apart.
   */
  serviceDimension: 'service',
  serviceEnv: 'POWERTOOLS_SERVICE_NAME',
  /** The service where `serviceEnv` is not set (the local runtime, tests). */
  defaultService: 'image-queue',
  names: {
    /** Member messages the dead-letter recorder turned into errors (each one an image not ingested). */
    imagesDeadLettered: 'ImagesDeadLettered',
    /** Failed origin fetches (every attempt, retried ones included), with `failureKindDimension`. */
    originFailures: 'OriginFailures',
    /** Batches whose last member ended, counted once per batch by whoever set `finished`. */
    batchesFinished: 'BatchesFinished',
  },
  failureKindDimension: 'FailureKind',
} as const;

/**
 * The values of the `FailureKind` dimension: a small, fixed set (each value is a separate
 * CloudWatch metric), so an HTTP status is reduced to its class.
 */
export const ORIGIN_FAILURE_KINDS = [
  /** No complete answer within ORIGIN_TIMEOUT_MS. */
  'timeout',
  /** Connection refused, reset or unreachable, temporary DNS failure, other socket errors. */
  'network',
  /** The host name does not exist. */
  'dns',
  /** TLS handshake failed or the certificate was not acceptable. */
  'tls',
  /** The address is loopback, private, link-local or the metadata service (SSRF guard). */
  'forbidden-address',
  /** Not a URL, not http(s), no host. */
  'invalid-url',
  /** Too many redirects, a redirect without (or with a bad) Location, or to another scheme. */
  'redirect',
  'http-4xx',
  'http-5xx',
  /** A malformed HTTP response, or a status that is neither success, redirect, 4xx nor 5xx. */
  'invalid-response',
  /** Larger than ORIGIN_MAX_BYTES. */
  'too-large',
  /** Fetched, but not a recognised image with dimensions. */
  'not-an-image',
  /** Anything the classification does not know (a new message in origin.ts, an exception). */
  'other',
] as const;

export type OriginFailureKind = (typeof ORIGIN_FAILURE_KINDS)[number];

/**
 * The kinds that say the processors cannot reach origins at large (egress, NAT, resolver, or a big
 * origin that is down), which is the operator's business. The others follow from the URLs the
 * customers sent (404s, not an image, private addresses...): each image reports its own error and
 * a flood of them is not something an operator can fix, so they are graphed but do not alarm.
 */
export const ALARMED_ORIGIN_FAILURE_KINDS = ['timeout', 'network'] as const satisfies readonly OriginFailureKind[];
