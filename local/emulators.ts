/**
 * The two AWS emulators of the local runtime, with no Docker and no AWS account:
 * - DynamoDB Local (AWS's own engine, a Java jar fetched by `npm install` into `.cache/`), run as a
 *   child process that is always killed on stop() and on process exit;
 * - fauxqs, a pure-Node SQS emulator, run in-process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

const REPO_ROOT = resolve(__dirname, '..');
const JAR = 'DynamoDBLocal.jar';
/** Overrides where DynamoDBLocal.jar is looked for (a folder holding the jar and DynamoDBLocal_lib/). */
export const DYNAMODB_LOCAL_DIR_ENV = 'DYNAMODB_LOCAL_DIR';

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** Pid of the Java process (gone after stop()). */
  pid: number;
  stop(): Promise<void>;
}

export interface SqsEmulator {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

// ---- child-process bookkeeping: no Java process may outlive this one --------------------------

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // 'exit' handlers must be synchronous: SIGKILL is the only thing guaranteed to land.
    process.once('exit', () => {
      for (const c of liveChildren) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
  }
}

async function killChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((done) => {
      timer = setTimeout(() => done(true), graceMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
}

// ---- DynamoDB Local ----------------------------------------------------------------------------

/** Folder holding DynamoDBLocal.jar: $DYNAMODB_LOCAL_DIR, else the newest verified one under .cache/. */
export function findDynamoDbLocalDir(): string {
  const override = process.env[DYNAMODB_LOCAL_DIR_ENV];
  if (override) {
    if (!existsSync(join(override, JAR))) {
      throw new Error(`${DYNAMODB_LOCAL_DIR_ENV}=${override} does not contain ${JAR}`);
    }
    return override;
  }
  const cache = join(REPO_ROOT, '.cache', 'dynamodb-local');
  const candidates = existsSync(cache)
    ? readdirSync(cache)
        .filter((v) => existsSync(join(cache, v, JAR)) && existsSync(join(cache, v, '.verified')))
        .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }))
    : [];
  const first = candidates[0];
  if (!first) {
    throw new Error(
      `DynamoDB Local is not installed (no ${JAR} under ${cache}). Run \`npm ci\` (its postinstall ` +
        'script scripts/fetch-dynamodb-local.mjs fetches it), or `node scripts/fetch-dynamodb-local.mjs`.',
    );
  }
  return join(cache, first);
}

/** A TCP port free right now on 127.0.0.1 (a race is possible; callers retry on bind failure). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

export interface DynamoDbLocalOptions {
  /** Port to listen on; a free one is picked (and retried on a bind race) when omitted or 0. */
  port?: number;
  /** How long to wait for the engine to answer ListTables (default 90 s: a JVM on a busy 2-core machine is slow to start). */
  startTimeoutMs?: number;
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const dir = findDynamoDbLocalDir();
  const attempts = options.port ? 1 : 3;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const port = options.port || (await freePort());
    try {
      return await launchDynamoDbLocal(dir, port, options.startTimeoutMs ?? 90_000);
    } catch (err) {
      lastError = err;
      if ((err as { code?: string }).code === 'JAVA_MISSING') break;
    }
  }
  throw lastError;
}

async function launchDynamoDbLocal(dir: string, port: number, timeoutMs: number): Promise<DynamoDbLocal> {
  const child = spawn(process.env.JAVA ?? 'java', ['-jar', JAR, '-inMemory', '-port', String(port), '-disableTelemetry'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let failure: Error | undefined;
  child.once('error', (err: NodeJS.ErrnoException) => {
    failure =
      err.code === 'ENOENT'
        ? Object.assign(
            new Error(
              'Java was not found on PATH: DynamoDB Local needs a Java runtime (17 or later). Install one ' +
                '(e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA to the java binary.',
            ),
            { code: 'JAVA_MISSING' },
          )
        : err;
  });
  child.once('exit', (code, signal) => {
    failure ??= new Error(`DynamoDB Local exited during start-up (code ${code}, signal ${signal}) on port ${port}:\n${output.trim()}`);
  });
  if (child.pid !== undefined) track(child);

  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { requestTimeout: 1000, connectionTimeout: 500, throwOnRequestTimeout: true },
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (failure) throw failure;
      try {
        await probe.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        /* not listening yet */
      }
      if (failure) throw failure;
      if (Date.now() > deadline) {
        throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms:\n${output.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await killChild(child);
    throw err;
  } finally {
    probe.destroy();
  }
  // Its output keeps being drained (a full pipe would block it), but neither the process nor its
  // pipes keep Node alive: a runtime someone forgot to stop cannot hang the process, and the exit
  // hook then kills Java.
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port,
    pid: child.pid as number,
    stop: () => (stopping ??= killChild(child)),
  };
}

// ---- SQS (fauxqs, in-process) ------------------------------------------------------------------

type Fauxqs = typeof import('fauxqs');

/**
 * Loads fauxqs (ESM-only, `exports` with an `import` condition only). Node and tsx resolve the bare
 * name; Jest's CommonJS resolver cannot, so fall back to the entry file's path (Jest transforms it).
 */
async function loadFauxqs(): Promise<Fauxqs> {
  // fauxqs 2 loads node:sqlite (for its optional persistence), which Node 22 still calls
  // experimental: keep that one warning off the terminal of every run and test worker.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(warning).startsWith('SQLite is an experimental feature')) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return await importFauxqs();
  } finally {
    process.emitWarning = emitWarning;
  }
}

async function importFauxqs(): Promise<Fauxqs> {
  try {
    return await import('fauxqs');
  } catch (err) {
    for (let dir = __dirname; ; dir = dirname(dir)) {
      const pkg = join(dir, 'node_modules', 'fauxqs', 'package.json');
      if (existsSync(pkg)) {
        const manifest = JSON.parse(readFileSync(pkg, 'utf8')) as {
          exports?: { '.'?: { import?: { default?: string } } };
          main?: string;
        };
        const entry = manifest.exports?.['.']?.import?.default ?? manifest.main ?? 'index.js';
        return (await import(join(dirname(pkg), entry))) as Fauxqs;
      }
      if (dirname(dir) === dir) throw err;
    }
  }
}

export async function startSqsEmulator(options: { port?: number } = {}): Promise<SqsEmulator> {
  const { startFauxqs } = await loadFauxqs();
  const server = await startFauxqs({ port: options.port ?? 0, logger: false });
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    port: server.port,
    stop: () => (stopping ??= server.stop()),
  };
}

/** Whether a process id is alive (for tests checking that no child was left behind); false for no pid. */
export function isProcessAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
