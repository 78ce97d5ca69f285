/**
 * The local runtime: DynamoDB Local + fauxqs, the table and queues provisioned from
 * lambdas/config/resources.ts, an HTTP server emulating API Gateway in front of the API handlers,
 * SQS event-source pollers in front of the consumers, and the scheduled jobs, all in one process
 * (plus the Java child) with no AWS account and no Docker.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { ENV, type WorkQueueName } from '../lambdas/config/resources';
import { resetClients, SERVICE_ENDPOINT_ENV } from '../lambdas/adapters/aws-clients';
import { startDynamoDbLocal, startSqsEmulator, type DynamoDbLocal, type SqsEmulator } from './emulators';
import { consoleLogger, createHandlerLoader, type HandlerLoader, type HandlerRegistry, type RuntimeLogger } from './handlers';
import { createApiListener } from './http-adapter';
import { startPollers, type PollerName, type PollerOptions, type Pollers } from './pollers';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localSqsClient, provision } from './provision';
import { startSchedules, type ScheduleOptions, type Schedules } from './schedules';

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
  /** Fault-injection hooks passed to the pollers. */
  pollerHooks?: Pick<PollerOptions, 'transformEvent' | 'onBeforeInvoke' | 'onAfterInvoke'>;
  /** false: no pollers at all (messages stay in the queues). */
  pollers?: boolean;
  /** Extra environment for the handlers (e.g. ADMIN_KEY, MAX_BODY_BYTES); wins over the defaults. */
  env?: Record<string, string>;
  /** false: no schedule timers (runNow still works). Default true. */
  schedules?: boolean;
  schedulePeriodMs?: ScheduleOptions['periodMs'];
  /** Seconds an authorizer result is cached per token (default 0: revocation is immediate). */
  authorizerCacheTtlSeconds?: number;
  /** Table name and queue name prefix (default image-queue). */
  prefix?: string;
  /** DynamoDB Local port (default: a free one). */
  dynamoPort?: number;
  logger?: RuntimeLogger;
}

export interface LocalRuntime {
  /** Base URL of the API, e.g. http://127.0.0.1:3000 (no stage prefix). */
  apiUrl: string;
  port: number;
  /** Environment given to the handlers (also applied to process.env until stop()). */
  env: Record<string, string>;
  dynamoEndpoint: string;
  sqsEndpoint: string;
  /** Pid of the DynamoDB Local Java process. */
  dynamoPid: number;
  /** An SQS client for the emulator (tests: send, inspect queues); destroyed by stop(). */
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

  try {
    const [dynamoResult, sqsResult] = await Promise.allSettled([
      startDynamoDbLocal({ port: options.dynamoPort }),
      startSqsEmulator(),
    ]);
    if (dynamoResult.status === 'fulfilled') cleanups.push(() => dynamoResult.value.stop());
    if (sqsResult.status === 'fulfilled') cleanups.push(() => sqsResult.value.stop());
    if (dynamoResult.status === 'rejected') throw dynamoResult.reason;
    if (sqsResult.status === 'rejected') throw sqsResult.reason;
    const dynamoDb: DynamoDbLocal = dynamoResult.value;
    const sqsEmulator: SqsEmulator = sqsResult.value;

    const provisioned = await provision({
      dynamoEndpoint: dynamoDb.endpoint,
      sqsEndpoint: sqsEmulator.endpoint,
      prefix,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    });
    const env: Record<string, string> = {
      ...provisioned,
      [SERVICE_ENDPOINT_ENV.dynamodb]: dynamoDb.endpoint,
      [SERVICE_ENDPOINT_ENV.sqs]: sqsEmulator.endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      [ENV.allowPrivateOrigins]: 'true',
      [ENV.adminKey]: DEFAULT_ADMIN_KEY,
      [ENV.adminSecret]: DEFAULT_ADMIN_SECRET,
      ...options.env,
    };
    setEnv(env);
    // A session token from the developer's shell would be sent with the dummy keys: hide it.
    if (process.env.AWS_SESSION_TOKEN !== undefined) {
      savedEnv.set('AWS_SESSION_TOKEN', process.env.AWS_SESSION_TOKEN);
      delete process.env.AWS_SESSION_TOKEN;
    }
    resetClients();

    const loadHandler = createHandlerLoader(options.handlers);
    const sqs = localSqsClient(sqsEmulator.endpoint);
    cleanups.push(() => sqs.destroy());

    const listener = createApiListener({
      loadHandler,
      authorizerCacheTtlSeconds: options.authorizerCacheTtlSeconds,
      functionPrefix: prefix,
      logger,
    });
    const server = createServer(listener);
    server.keepAliveTimeout = 5000;
    const port = await listen(server, options.port ?? DEFAULT_PORT, options.host ?? '127.0.0.1');
    cleanups.push(() => closeServer(server));
    const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : '127.0.0.1';
    const apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

    let pollers: Pollers | undefined;
    if (options.pollers !== false) {
      const pollerSqs = localSqsClient(sqsEmulator.endpoint);
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
      dynamoEndpoint: dynamoDb.endpoint,
      sqsEndpoint: sqsEmulator.endpoint,
      dynamoPid: dynamoDb.pid,
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
