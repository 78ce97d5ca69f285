/**
 * The local runtime: DynamoDB Local + fauxqs, the table and queues provisioned from
 * lambdas/config/resources.ts, an HTTP server emulating API Gateway in front of the API handlers,
 * SQS event-source pollers in front of the consumers, and the scheduled jobs, all in one process
 * (plus the Java child) with no AWS account and no Docker.
 *
 * Either emulator can be replaced by an existing service (`dynamoEndpoint`, `sqsEndpoint`, e.g.
 * LocalStack): the table and queues are then created there if missing, and stop() leaves them be.
 *
 * Strict DynamoDB mode (local/strict-dynamodb.ts, on by default in front of DynamoDB Local): a
 * proxy that adds AWS's transaction conflicts, per-key throttling, GSI lag and random errors; every
 * client (the handlers, tests and scripts via `dynamoEndpoint`) goes through it; provisioning goes direct.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { resetClients, SERVICE_ENDPOINT_ENV } from '../lambdas/adapters/aws-clients';
import { ENV, type WorkQueueName } from '../lambdas/config/resources';
import { type DynamoDbLocal, type SqsEmulator, startDynamoDbLocal, startSqsEmulator } from './emulators';
import { consoleLogger, createHandlerLoader, type HandlerLoader, type HandlerRegistry, type RuntimeLogger } from './handlers';
import { createApiListener } from './http-adapter';
import { type PollerName, type PollerOptions, type Pollers, startPollers } from './pollers';
import {
  credentialsTableNameFor,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalCredentials,
  localDynamoClient,
  localSqsClient,
  provision,
  tableNameFor,
} from './provision';
import { type ScheduleOptions, type Schedules, startSchedules } from './schedules';
import {
  STRICT_DYNAMODB_ENV,
  type StrictDynamoOptions,
  type StrictDynamoProxy,
  startStrictDynamoProxy,
  strictOptionsFromEnv,
} from './strict-dynamodb';
import { DEFAULT_LOCAL_USAGE_LIMITS, type LocalUsageLimits } from './usage-limits';

/** `off` turns the local gateway's per-key limits off (e.g. for load tests with one key). */
export const LOCAL_USAGE_LIMITS_ENV = 'LOCAL_USAGE_LIMITS';

function usageLimitsFromEnv(): LocalUsageLimits | false {
  return process.env[LOCAL_USAGE_LIMITS_ENV]?.trim().toLowerCase() === 'off' ? false : DEFAULT_LOCAL_USAGE_LIMITS;
}

/** Endpoint of a DynamoDB Local shared by every runtime of this process (see `sharedDynamoDbLocal`). */
export const SHARED_DYNAMODB_LOCAL_ENV = 'SHARED_DYNAMODB_LOCAL';

export const DEFAULT_PORT = 3000;
export const DEFAULT_ADMIN_KEY = 'admin';
export const DEFAULT_ADMIN_SECRET = 'local-admin-secret';

export interface LocalRuntimeOptions {
  /** HTTP port; 0 = random; default 3000. */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Handlers used instead of lambdas/handlers/<name>.ts (the others are still loaded from files). */
  handlers?: HandlerRegistry;
  /** Overrides the queues' visibility timeouts (e.g. 1 in tests so redelivery is quick). */
  visibilityTimeoutSeconds?: number | Partial<Record<WorkQueueName, number>>;
  /** Concurrent poll loops per queue (0 = no poller for that queue). */
  pollerConcurrency?: Partial<Record<PollerName, number>>;
  /** Hooks around each poller invocation (the tests rewrite, delay or observe deliveries). */
  pollerHooks?: Pick<PollerOptions, 'transformEvent' | 'onBeforeInvoke' | 'onAfterInvoke'>;
  /** false: no pollers at all (messages stay in the queues). */
  pollers?: boolean;
  /** Extra environment for the handlers (e.g. ADMIN_KEY, MAX_BODY_BYTES); wins over the defaults. */
  env?: Record<string, string>;
  /** false: no schedule timers (runNow still works). Default true. */
  schedules?: boolean;
  schedulePeriodMs?: ScheduleOptions['periodMs'];
  /** Seconds an authorizer result is cached per token (default 0, as the stack: revocation is immediate). */
  authorizerCacheTtlSeconds?: number;
  /**
   * Per-key throttling and quotas (429), as the stack's usage plans. Default: the stack's
   * `USAGE_LIMITS`, unless LOCAL_USAGE_LIMITS=off; `false` turns them off.
   */
  usageLimits?: LocalUsageLimits | false;
  /** Table name and queue name prefix (default image-queue). */
  prefix?: string;
  /** DynamoDB Local port (default: a free one); ignored with `dynamoEndpoint`. */
  dynamoPort?: number;
  /**
   * A DynamoDB Local already running that many runtimes share (the integration suite starts one per
   * run: test/support/integration-setup.ts): this runtime keeps to a database of its own in it (a
   * fresh access key ID, as DynamoDB Local keeps one database per key and region), treats it as its
   * own (strict mode as usual) and drops its tables on stop(). Default: $SHARED_DYNAMODB_LOCAL_ENV;
   * false starts a DynamoDB Local of its own whatever the environment says.
   */
  sharedDynamoDbLocal?: string | false;
  /**
   * An existing DynamoDB (e.g. LocalStack's http://localhost:4566) used instead of starting
   * DynamoDB Local: the table is created there if missing and is never deleted.
   */
  dynamoEndpoint?: string;
  /** An existing SQS used instead of starting the SQS emulator: queues created if missing, never deleted. */
  sqsEndpoint?: string;
  /** Region of every client, the handlers' included (default us-east-1). */
  region?: string;
  /** Credentials of every client, the handlers' included (default the dummy LOCAL_CREDENTIALS). */
  credentials?: LocalCredentials;
  /**
   * Strict DynamoDB mode: a proxy in front of DynamoDB that behaves like AWS (conflicts, per-key
   * throttling, GSI lag, random throttles and 500s); false = off. When omitted it comes from
   * STRICT_DYNAMODB (strictOptionsFromEnv): on by default for the embedded DynamoDB Local; for an
   * external `dynamoEndpoint` off unless STRICT_DYNAMODB is set.
   */
  strict?: StrictDynamoOptions | false;
  logger?: RuntimeLogger;
}

export interface LocalRuntime {
  /** Base URL of the API, e.g. http://127.0.0.1:3000 (no stage prefix). */
  apiUrl: string;
  port: number;
  /** Environment given to the handlers (also applied to process.env until stop()). */
  env: Record<string, string>;
  /** The DynamoDB endpoint every client uses: the strict proxy's when strict mode is on. */
  dynamoEndpoint: string;
  /** The DynamoDB behind the proxy (DynamoDB Local or the external one); = dynamoEndpoint when strict is off. */
  dynamoUpstreamEndpoint: string;
  /** The strict-mode proxy (options, stats()), when strict mode is on. */
  strict?: StrictDynamoProxy;
  sqsEndpoint: string;
  /** Whether DynamoDB / SQS is an existing service given in the options (true) or started here (false). */
  dynamoExternal: boolean;
  sqsExternal: boolean;
  /** Pid of the DynamoDB Local Java process this runtime started; undefined with an external or shared DynamoDB. */
  dynamoPid?: number;
  /** The credentials every client of this runtime uses (they select the database in a shared DynamoDB Local). */
  credentials: LocalCredentials;
  region: string;
  /** An SQS client for the queues in use (tests: send, inspect queues); destroyed by stop(). */
  sqs: SQSClient;
  loadHandler: HandlerLoader;
  pollers: Pollers | undefined;
  schedules: Schedules;
  clearAuthorizerCache(): void;
  stop(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    if (!server.listening) return done();
    server.close(() => done());
    server.closeIdleConnections();
    // Connections still busy get a moment to finish, then are cut.
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}

/**
 * A shared DynamoDB Local keeps a runtime's tables in memory until it stops: free them with the
 * runtime, whether provisioning created both, one or none.
 */
async function dropTables(endpoint: string, prefix: string, region: string, credentials: LocalCredentials): Promise<void> {
  const client = localDynamoClient(endpoint, region, credentials);
  try {
    for (const TableName of [tableNameFor(prefix), credentialsTableNameFor(prefix)]) {
      await client.send(new DeleteTableCommand({ TableName })).catch((error: unknown) => {
        if ((error as Error).name !== 'ResourceNotFoundException') throw error;
      });
    }
  } finally {
    client.destroy();
  }
}

/**
 * Strict mode's options: explicit ones win; else STRICT_DYNAMODB decides, except that an external
 * DynamoDB (already AWS or AWS-like) gets no proxy unless STRICT_DYNAMODB is set.
 */
function resolveStrict(explicit: StrictDynamoOptions | false | undefined, externalDynamo: boolean): StrictDynamoOptions | undefined {
  if (explicit === false) return undefined;
  if (explicit) return explicit;
  const value = process.env[STRICT_DYNAMODB_ENV];
  if (externalDynamo && !value?.trim()) return undefined;
  return strictOptionsFromEnv(value ?? '');
}

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const logger = options.logger ?? consoleLogger;
  const prefix = options.prefix ?? 'image-queue';
  const cleanups: Array<() => Promise<void> | void> = [];
  const savedEnv = new Map<string, string | undefined>();
  const setEnv = (vars: Record<string, string>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (!savedEnv.has(k)) savedEnv.set(k, process.env[k]);
      process.env[k] = v;
    }
  };
  const restoreEnv = () => {
    for (const [k, v] of savedEnv) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    savedEnv.clear();
    resetClients();
  };
  cleanups.push(restoreEnv);

  const runCleanups = async () => {
    for (const cleanup of cleanups.reverse().splice(0)) {
      try {
        await cleanup();
      } catch (err) {
        logger.error('local runtime: stop step failed', err);
      }
    }
  };

  const region = options.region || LOCAL_REGION;
  const shared = options.dynamoEndpoint ? undefined : (options.sharedDynamoDbLocal ?? process.env[SHARED_DYNAMODB_LOCAL_ENV]) || undefined;
  // A fresh key per runtime (letters and digits only: DynamoDB Local refuses others) selects a database of its own.
  const credentials: LocalCredentials =
    options.credentials ??
    (shared ? { accessKeyId: `local${randomUUID().replaceAll('-', '')}`, secretAccessKey: 'local' } : LOCAL_CREDENTIALS);
  // Before anything starts: a bad STRICT_DYNAMODB fails here.
  const strictOptions = resolveStrict(options.strict, options.dynamoEndpoint !== undefined);

  try {
    // Only what no endpoint was given for is started here (and only that is stopped by stop()).
    const [dynamoResult, sqsResult] = await Promise.allSettled([
      options.dynamoEndpoint || shared ? undefined : startDynamoDbLocal({ port: options.dynamoPort }),
      options.sqsEndpoint ? undefined : startSqsEmulator(),
    ]);
    if (dynamoResult.status === 'fulfilled' && dynamoResult.value) {
      const d = dynamoResult.value;
      cleanups.push(() => d.stop());
    }
    if (sqsResult.status === 'fulfilled' && sqsResult.value) {
      const q = sqsResult.value;
      cleanups.push(() => q.stop());
    }
    if (dynamoResult.status === 'rejected') throw dynamoResult.reason;
    if (sqsResult.status === 'rejected') throw sqsResult.reason;
    const dynamoDb: DynamoDbLocal | undefined = dynamoResult.value;
    const sqsEmulator: SqsEmulator | undefined = sqsResult.value;
    const dynamoUpstreamEndpoint = options.dynamoEndpoint ?? shared ?? (dynamoDb as DynamoDbLocal).endpoint;
    const sqsEndpoint = options.sqsEndpoint ?? (sqsEmulator as SqsEmulator).endpoint;

    if (shared) cleanups.push(() => dropTables(shared, prefix, region, credentials));
    // Provisioning goes straight to DynamoDB (control-plane calls are not what strict mode is about).
    const provisioned = await provision({
      dynamoEndpoint: dynamoUpstreamEndpoint,
      sqsEndpoint,
      prefix,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      region,
      credentials,
    }).catch((err: unknown) => {
      throw new Error(
        `provisioning the table and queues failed (DynamoDB ${dynamoUpstreamEndpoint}, SQS ${sqsEndpoint}, ` +
          `region ${region}): ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    });

    let strict: StrictDynamoProxy | undefined;
    if (strictOptions) {
      const proxy = await startStrictDynamoProxy(dynamoUpstreamEndpoint, strictOptions);
      strict = proxy;
      cleanups.push(() => proxy.stop());
    }
    const dynamoEndpoint = strict?.endpoint ?? dynamoUpstreamEndpoint;

    const env: Record<string, string> = {
      ...provisioned,
      [SERVICE_ENDPOINT_ENV.dynamodb]: dynamoEndpoint,
      [SERVICE_ENDPOINT_ENV.sqs]: sqsEndpoint,
      [SERVICE_ENDPOINT_ENV.sns]: sqsEndpoint,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
      [ENV.allowPrivateOrigins]: 'true',
      [ENV.adminKey]: DEFAULT_ADMIN_KEY,
      [ENV.adminSecret]: DEFAULT_ADMIN_SECRET,
      ...options.env,
    };
    setEnv(env);
    // A session token from the developer's shell would be sent with other keys: hide it.
    if (env.AWS_SESSION_TOKEN === undefined && process.env.AWS_SESSION_TOKEN !== undefined) {
      savedEnv.set('AWS_SESSION_TOKEN', process.env.AWS_SESSION_TOKEN);
      delete process.env.AWS_SESSION_TOKEN;
    }
    resetClients();

    const loadHandler = createHandlerLoader(options.handlers);
    const sqs = localSqsClient(sqsEndpoint, region, credentials);
    cleanups.push(() => sqs.destroy());

    const listener = createApiListener({
      loadHandler,
      authorizerCacheTtlSeconds: options.authorizerCacheTtlSeconds,
      usageLimits: options.usageLimits ?? usageLimitsFromEnv(),
      functionPrefix: prefix,
      logger,
    });
    const server = createServer(listener);
    server.keepAliveTimeout = 5000;
    const port = await listen(server, options.port ?? DEFAULT_PORT, options.host ?? '127.0.0.1');
    cleanups.push(() => closeServer(server));
    const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : '127.0.0.1';
    const apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    // Links in completion notices (sent outside any request) point at this API.
    env[ENV.apiBaseUrl] = apiUrl;
    setEnv({ [ENV.apiBaseUrl]: apiUrl });

    let pollers: Pollers | undefined;
    if (options.pollers !== false) {
      const pollerSqs = localSqsClient(sqsEndpoint, region, credentials);
      cleanups.push(() => pollerSqs.destroy());
      pollers = await startPollers({
        sqs: pollerSqs,
        env,
        loadHandler,
        concurrency: options.pollerConcurrency,
        functionPrefix: prefix,
        logger,
        ...options.pollerHooks,
      });
      const p = pollers;
      cleanups.push(() => p.stop());
    }

    const schedules = startSchedules({
      loadHandler,
      enabled: options.schedules,
      periodMs: options.schedulePeriodMs,
      functionPrefix: prefix,
      logger,
    });
    cleanups.push(() => schedules.stop());

    let stopping: Promise<void> | undefined;
    return {
      apiUrl,
      port,
      env,
      dynamoEndpoint,
      dynamoUpstreamEndpoint,
      strict,
      sqsEndpoint,
      dynamoExternal: dynamoDb === undefined,
      sqsExternal: sqsEmulator === undefined,
      dynamoPid: dynamoDb?.pid,
      credentials,
      region,
      sqs,
      loadHandler,
      pollers,
      schedules,
      clearAuthorizerCache: () => listener.clearAuthorizerCache(),
      stop: () => (stopping ??= runCleanups()),
    };
  } catch (err) {
    await runCleanups();
    throw err;
  }
}
