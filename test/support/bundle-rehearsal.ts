/**
 * Runs the Lambda bundles of a synthesized cloud assembly (test/support/cloud-assembly.ts) the way
 * Lambda runs them, against the local emulators instead of AWS:
 *
 * - each function's bundle is copied alone into an empty folder under the system's temporary
 *   directory, with no node_modules beside it or above it, so whatever the bundle left out cannot
 *   be found anywhere else;
 * - a child Node process (this Node: 22 in CI), its working directory the bundle, loads the
 *   handler once and answers the invocations sent to it over IPC, one at a time, as a warm
 *   container does;
 * - its environment is the function's `Environment.Variables` from the template, each
 *   CloudFormation reference replaced by the local runtime's value of the same variable, plus what
 *   Lambda itself sets (region, credentials, function name…) and the emulators' endpoints;
 * - it records every environment variable the code reads and every module it loads, so a test can
 *   name a variable that only the local runtime gives (it runs every handler in one process with
 *   every variable set) and a module that came from outside the bundle.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FUNCTIONS, type FunctionName, sourcesOf } from '../../lambdas/config/functions';
import { ENV, QUEUES } from '../../lambdas/config/resources';
import type { AssemblyFunction } from './cloud-assembly';

/** The function of `FUNCTIONS` a template function was built from (by its construct id). */
export function functionNameOf(fn: AssemblyFunction): FunctionName | undefined {
  const id = fn.constructPath.split('/').slice(-2, -1)[0];
  return (Object.keys(FUNCTIONS) as FunctionName[]).find((name) => {
    const definition = FUNCTIONS[name];
    if (!definition.perQueue) return id === definition.id;
    return sourcesOf(name).some((source) => id === `${definition.id}${QUEUES[source as keyof typeof QUEUES]?.id}`);
  });
}

/**
 * Template variables the local runtime gives under other names: there is no Secrets Manager
 * locally, so it hands the handlers the admin credential itself (admin-credential.ts reads either).
 */
export const LOCAL_EQUIVALENTS: Readonly<Record<string, readonly string[]>> = {
  [ENV.adminSecretName]: [ENV.adminKey, ENV.adminSecret],
};

/**
 * Literal template values that cannot work locally, replaced by the local runtime's value:
 * - ALLOW_PRIVATE_ORIGINS `false`: the processors' origins are the tests' servers on 127.0.0.1,
 *   which AWS's value rightly refuses (SSRF guard).
 */
export const LOCAL_OVERRIDES: readonly string[] = [ENV.allowPrivateOrigins];

/** Whether a template value is resolved at deploy time (Ref, Fn::GetAtt, Fn::Join…) rather than literal. */
const isReference = (value: unknown) => value !== null && typeof value === 'object';

/**
 * The environment Lambda would give `fn`, made local: the template's variables (references and
 * `LOCAL_OVERRIDES` from `localEnv`, the local runtime's environment; other literals as they are),
 * Lambda's own variables, and the emulators' endpoints (`AWS_ENDPOINT_URL_*`) in place of AWS's.
 */
export function bundleEnvironment(fn: AssemblyFunction, taskDir: string, localEnv: Record<string, string>): Record<string, string> {
  const local = (name: string, why: string): string => {
    const value = localEnv[name];
    if (value === undefined) throw new Error(`${fn.logicalId} needs ${name} (${why}), which the local runtime does not set`);
    return value;
  };
  const env: Record<string, string> = {
    // What Lambda sets in every container (the role's credentials: the emulators' dummy ones).
    AWS_REGION: local('AWS_REGION', 'Lambda sets it'),
    AWS_DEFAULT_REGION: local('AWS_REGION', 'Lambda sets it'),
    AWS_ACCESS_KEY_ID: local('AWS_ACCESS_KEY_ID', 'Lambda sets it'),
    AWS_SECRET_ACCESS_KEY: local('AWS_SECRET_ACCESS_KEY', 'Lambda sets it'),
    ...(localEnv.AWS_SESSION_TOKEN ? { AWS_SESSION_TOKEN: localEnv.AWS_SESSION_TOKEN } : {}),
    AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMiB),
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: taskDir,
    _HANDLER: fn.handler,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: '/usr/local/bin:/usr/bin:/bin',
    // The emulators stand in for AWS's endpoints.
    ...Object.fromEntries(Object.entries(localEnv).filter(([name]) => name.startsWith(ENV.endpointUrl))),
  };
  for (const [name, value] of Object.entries(fn.environment)) {
    if (isReference(value)) {
      for (const equivalent of LOCAL_EQUIVALENTS[name] ?? [name])
        env[equivalent] = local(equivalent, `the template's ${name} is a reference`);
    } else {
      env[name] = LOCAL_OVERRIDES.includes(name) ? local(name, `in place of the template's ${String(value)}`) : String(value);
    }
  }
  return env;
}

/**
 * The child's side: loads the handler as Lambda's Node.js runtime does (`index.js` by `require`,
 * `index.mjs` by `import`), then answers `{ id, event }` messages with the handler's result or
 * error, the variables read so far and the modules loaded from outside the bundle.
 */
const RUNNER = `'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { pathToFileURL } = require('node:url');

const taskRoot = process.cwd();
const timeoutMs = Number(process.argv[2]) * 1000;
const env = process.env;
const handlerSetting = env._HANDLER;
const reads = new Set();
process.env = new Proxy(env, {
  get(target, key) {
    if (typeof key === 'string') reads.add(key);
    return Reflect.get(target, key);
  },
  has(target, key) {
    if (typeof key === 'string') reads.add(key);
    return Reflect.has(target, key);
  },
});

async function loadHandler() {
  const dot = handlerSetting.lastIndexOf('.');
  const file = path.resolve(taskRoot, handlerSetting.slice(0, dot));
  const exported = handlerSetting.slice(dot + 1);
  let mod;
  if (fs.existsSync(file + '.js')) mod = require(file + '.js');
  else if (fs.existsSync(file + '.mjs')) mod = await import(pathToFileURL(file + '.mjs').href);
  else if (fs.existsSync(file + '.cjs')) mod = require(file + '.cjs');
  else throw new Error('Cannot find module ' + file + ' (.js, .mjs or .cjs)');
  if (typeof mod[exported] !== 'function') throw new Error(handlerSetting + ' is undefined or not exported');
  return mod[exported];
}
const loading = loadHandler();
loading.catch(() => undefined);

function context() {
  const deadline = Date.now() + timeoutMs;
  const name = env.AWS_LAMBDA_FUNCTION_NAME;
  const awsRequestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:' + env.AWS_REGION + ':000000000000:function:' + name,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId,
    logGroupName: '/aws/lambda/' + name,
    logStreamName: 'rehearsal/[$LATEST]' + awsRequestId.replace(/-/g, ''),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
}

process.on('message', async ({ id, event }) => {
  let reply;
  try {
    const handler = await loading;
    reply = { id, ok: true, result: await handler(event, context()) };
  } catch (error) {
    const message = error && error.message ? error.message : String(error);
    reply = { id, ok: false, error: { name: error && error.name, message, stack: error && error.stack } };
  }
  reply.reads = [...reads];
  reply.foreign = Object.keys(require.cache).filter((f) => f !== __filename && !f.startsWith(taskRoot + path.sep));
  process.send(reply);
});
process.on('disconnect', () => process.exit(0));
`;

/** The folders above `dir`, nearest first. */
function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let current = dirname(dir); ; current = dirname(current)) {
    out.push(current);
    if (dirname(current) === current) return out;
  }
}

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { name?: string; message: string; stack?: string };
  reads: string[];
  foreign: string[];
}

/** An error thrown by the bundle's handler (or its loading), as the child reported it. */
export class BundleError extends Error {
  constructor(
    readonly fn: string,
    error: NonNullable<Reply['error']>,
    readonly logs: string,
  ) {
    super(error.message);
    // The handler's own name, so callers see what Lambda would report (`Unauthorized` stays itself).
    this.name = error.name ?? 'Error';
    this.stack = error.stack;
  }
}

const MAX_LOG_CHARS = 20_000;

/** One function's bundle, isolated in its own folder and loaded by its own Node process. */
export class BundleContainer {
  readonly root: string;
  readonly taskDir: string;
  readonly env: Record<string, string>;
  /** Every variable the code read, from loading on. */
  readonly reads = new Set<string>();
  /** Modules loaded from outside the bundle's folder. */
  readonly foreignModules = new Set<string>();
  /** Invocations answered (successfully or not). */
  invocations = 0;
  /** What the handler threw, in order. */
  readonly errors: BundleError[] = [];
  private logs = '';
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private exited: Promise<void>;

  constructor(
    readonly fn: AssemblyFunction,
    localEnv: Record<string, string>,
  ) {
    this.root = mkdtempSync(join(tmpdir(), `bundle-${fn.logicalId}-`));
    this.taskDir = join(this.root, 'task');
    const reachable = ancestors(this.taskDir)
      .map((dir) => join(dir, 'node_modules'))
      .filter((dir) => existsSync(dir));
    if (reachable.length > 0) {
      rmSync(this.root, { recursive: true, force: true });
      throw new Error(`${fn.logicalId}: ${reachable.join(', ')} would let the bundle find modules it left out`);
    }
    cpSync(fn.bundleDir, this.taskDir, { recursive: true });
    const runner = join(this.root, 'runner.cjs');
    writeFileSync(runner, RUNNER);
    this.env = bundleEnvironment(fn, this.taskDir, localEnv);
    // No NODE_PATH and no HOME in `env`: Node looks nowhere but the folders above the bundle.
    this.child = fork(runner, [String(fn.timeoutSeconds)], {
      cwd: this.taskDir,
      env: this.env,
      execPath: process.execPath,
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const log = (chunk: Buffer) => {
      // The handler's own log lines go to the suite's log (quiet terminal), and are kept for errors.
      process.stdout.write(`[${fn.logicalId}] ${chunk}`);
      this.logs = (this.logs + chunk.toString()).slice(-MAX_LOG_CHARS);
    };
    this.child.stdout?.on('data', log);
    this.child.stderr?.on('data', log);
    this.child.on('message', (reply: Reply) => {
      this.pending.get(reply.id)?.resolve(reply);
      this.pending.delete(reply.id);
    });
    this.exited = new Promise((resolve) => {
      const ended = (why: string) => {
        for (const { reject } of this.pending.values())
          reject(new Error(`${fn.logicalId}'s process ${why} during an invocation:\n${this.logs}`));
        this.pending.clear();
        resolve();
      };
      this.child.once('exit', (code, signal) => ended(`ended (${signal ?? `exit code ${code}`})`));
      this.child.once('error', (error) => ended(`failed (${error.message})`));
    });
  }

  /** Invokes the handler (after any invocation still running) and returns its result, or throws its error. */
  invoke<T = unknown>(event: unknown): Promise<T> {
    const run = this.queue.then(() => this.send(event));
    this.queue = run.catch(() => undefined);
    return run as Promise<T>;
  }

  private async send(event: unknown): Promise<unknown> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      throw new Error(`${this.fn.logicalId}'s process has ended:\n${this.logs}`);
    }
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, event }, (error) => {
        if (!error) return;
        this.pending.delete(id);
        reject(error);
      });
    });
    this.invocations += 1;
    for (const name of reply.reads) this.reads.add(name);
    for (const file of reply.foreign) this.foreignModules.add(file);
    if (reply.ok) return reply.result;
    const error = new BundleError(this.fn.logicalId, reply.error ?? { message: 'unknown error' }, this.logs);
    this.errors.push(error);
    throw error;
  }

  /** Variables the code read that the local runtime sets but this function's environment lacks. */
  localOnlyReads(localEnv: Record<string, string>, ignore: readonly string[] = []): string[] {
    return [...this.reads].filter((name) => name in localEnv && !(name in this.env) && !ignore.includes(name)).sort();
  }

  /** The handler's errors (from the `since`th on) and the process's recent output, for a failing assertion's message. */
  report(since = 0): string {
    const errors = this.errors.slice(since).map((e) => e.stack ?? e.message);
    return `${this.fn.logicalId} (${this.taskDir}):\n${errors.join('\n') || '(no error)'}\n--- recent output ---\n${this.logs}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
    await this.exited;
    rmSync(this.root, { recursive: true, force: true });
  }
}
