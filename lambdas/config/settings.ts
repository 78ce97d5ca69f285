/**
 * Runtime settings read from the environment at call time (not module load), so the local runtime
 * and tests can set variables before the first invocation.
 */
import { type EventSourceName, REPLAY_WINDOW_SECONDS, urlEnvOf } from './functions';
import { DEFAULTS, ENV } from './resources';

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got '${raw}'`);
  return value;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

export const settings = {
  tableName: () => required(ENV.tableName),
  credentialsTableName: () => required(ENV.credentialsTableName),
  /** The usage plan new customer keys join; undefined locally (the local gateway limits by itself). */
  usagePlanName: () => process.env[ENV.usagePlanName] || undefined,
  /** The admin key's usage identifier; the local gateway accepts any. */
  adminUsageKey: () => process.env[ENV.adminUsageKey] || 'image-queue-admin-usage',
  corsAllowedOrigins: () =>
    (process.env[ENV.corsAllowedOrigins] ?? '')
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
  queueUrl: (queue: 'main' | 'priority' | 'tasks') =>
    required({ main: ENV.mainQueueUrl, priority: ENV.priorityQueueUrl, tasks: ENV.tasksQueueUrl }[queue]),
  maxBatchSize: () => intFromEnv(ENV.maxBatchSize, DEFAULTS.maxBatchSize),
  maxQueueSize: () => intFromEnv(ENV.maxQueueSize, DEFAULTS.maxQueueSize),
  /** The limits of a submit (domain/submit.ts's SubmitLimits). */
  submitLimits: () => ({ maxQueueSize: settings.maxQueueSize(), replayWindowSeconds: REPLAY_WINDOW_SECONDS }),
  maxBodyBytes: () => intFromEnv(ENV.maxBodyBytes, DEFAULTS.maxBodyBytes),
  allowPrivateOrigins: () => process.env[ENV.allowPrivateOrigins] === 'true',
  originTimeoutMs: () => intFromEnv(ENV.originTimeoutMs, DEFAULTS.originTimeoutMs),
  originMaxBytes: () => intFromEnv(ENV.originMaxBytes, DEFAULTS.originMaxBytes),
  markRunningAfterMs: () => intFromEnv(ENV.markRunningAfterMs, DEFAULTS.markRunningAfterMs),
  transientRetryDelays: () => ({
    firstSeconds: intFromEnv(ENV.transientRetrySeconds, DEFAULTS.transientRetrySeconds),
    maxSeconds: intFromEnv(ENV.transientRetryMaxSeconds, DEFAULTS.transientRetryMaxSeconds),
  }),
  noticesTopicArn: () => process.env[ENV.noticesTopicArn] || undefined,
  apiBaseUrl: () => (process.env[ENV.apiBaseUrl] ?? '').replace(/\/$/, ''),
  queueCountsCacheSeconds: () => intFromEnv(ENV.queueCountsCacheSeconds, DEFAULTS.queueCountsCacheSeconds),
  /** Seconds the authorizer remembers a verified secret; 0 (or less) verifies every time. */
  authCacheSeconds: () => Math.max(0, intFromEnv(ENV.authCacheSeconds, DEFAULTS.authCacheSeconds)),
  /** The URL of a queue this function consumes, if it was given (see `urlEnvOf`); undefined otherwise. */
  eventSourceUrl: (source: EventSourceName) => process.env[urlEnvOf(source)] || undefined,
};
