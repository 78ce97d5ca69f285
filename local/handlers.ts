/**
 * How the local runtime finds and calls the Lambda handlers: file names under `lambdas/handlers/`,
 * lazy loading (so `process.env` is set before any handler module runs), an injectable registry for
 * tests, and a fake Lambda `Context` with the function's timeout and memory from `FUNCTIONS`
 * (lambdas/config/functions.ts), as the stack deploys it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { FUNCTIONS, type FunctionName } from '../lambdas/config/functions';

/** The Lambda function name of the invocation running now (for tests that record AWS calls per function). */
const invocation = new AsyncLocalStorage<string>();

export function currentFunctionName(): string | undefined {
  return invocation.getStore();
}

/**
 * A Lambda handler as the runtime calls it (async style: event and context, no callback). Each
 * handler declares the event of its own trigger (SQSEvent, APIGatewayProxyEvent…) and the runtime
 * passes it that one, so the event is typed as a method parameter: those are checked bivariantly,
 * which lets a handler typed for its event fit where a plain `(event: unknown) => …` would not.
 */
export type LambdaHandler = { handle(event: unknown, context: Context): unknown }['handle'];

/** Handlers to use instead of the modules under `lambdas/handlers/` (tests, benchmarks). */
export type HandlerRegistry = Partial<Record<FunctionName | (string & {}), LambdaHandler>>;

export type HandlerLoader = (name: FunctionName) => Promise<LambdaHandler>;

/**
 * Returns a loader that prefers `registry` and otherwise imports `lambdas/handlers/<name>` on first
 * use. A failed import is not cached, so a handler file written while the runtime runs is picked up.
 */
export function createHandlerLoader(registry: HandlerRegistry = {}): HandlerLoader {
  const cache = new Map<string, Promise<LambdaHandler>>();
  return (name) => {
    const injected = registry[name];
    if (injected) return Promise.resolve(injected);
    let loading = cache.get(name);
    if (!loading) {
      loading = importHandler(name);
      cache.set(name, loading);
      loading.catch(() => cache.delete(name));
    }
    return loading;
  };
}

async function importHandler(name: FunctionName): Promise<LambdaHandler> {
  let mod: { handler?: unknown; default?: { handler?: unknown } };
  try {
    mod = await import(`../lambdas/handlers/${name}`);
  } catch (err) {
    throw new Error(`cannot load handler lambdas/handlers/${name}.ts: ${(err as Error).message}`, { cause: err });
  }
  const handler = mod.handler ?? mod.default?.handler;
  if (typeof handler !== 'function') {
    throw new Error(`lambdas/handlers/${name}.ts does not export a function named "handler"`);
  }
  return handler as LambdaHandler;
}

/** A Lambda context good enough for handlers: ids, names, a deadline for `getRemainingTimeInMillis`. */
export function fakeContext(functionName: string, timeoutSeconds: number, memoryMiB = 512): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const awsRequestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION || 'us-east-1'}:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMiB),
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${awsRequestId.replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Invokes function `fn` as Lambda would: a context named `<prefix>-<fn>` with its `FUNCTIONS`
 * timeout and memory, and that timeout as the deadline (or `deadlineMs` if sooner: API Gateway's
 * integration timeout).
 */
export function invokeFunction<T>(
  fn: FunctionName,
  handler: LambdaHandler,
  event: unknown,
  options: { prefix: string; deadlineMs?: number },
): Promise<T> {
  const { timeoutSeconds, memoryMiB } = FUNCTIONS[fn];
  const context = fakeContext(`${options.prefix}-${fn}`, timeoutSeconds, memoryMiB);
  return invokeWithTimeout<T>(handler, event, context, Math.min(timeoutSeconds * 1000, options.deadlineMs ?? Infinity));
}

/** Calls a handler with a deadline, like Lambda's timeout (the handler's promise keeps running). */
export async function invokeWithTimeout<T>(handler: LambdaHandler, event: unknown, context: Context, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`)), timeoutMs);
    timer.unref();
  });
  try {
    const run = Promise.resolve().then(() => invocation.run(context.functionName, () => handler(event, context)));
    return (await Promise.race([run, timeout])) as T;
  } finally {
    clearTimeout(timer);
  }
}

/** Minimal logger interface used by the runtime (console by default; tests may silence it). */
export interface RuntimeLogger {
  info(message: string, ...rest: unknown[]): void;
  error(message: string, ...rest: unknown[]): void;
}

export const consoleLogger: RuntimeLogger = {
  info: (message, ...rest) => console.log(`[local] ${message}`, ...rest),
  error: (message, ...rest) => console.error(`[local] ${message}`, ...rest),
};

export const silentLogger: RuntimeLogger = { info: () => undefined, error: () => undefined };
