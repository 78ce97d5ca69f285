/**
 * Child processes as a user runs them: a command run to its end (`run`), and a long-running server
 * (`startServer`) in its own process group, so one signal reaches every process it started (npm,
 * tsx and node, or a Python server) and none outlives the suite.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { basename, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** `run` output for an assertion message, so a failure shows what the command said. */
export const said = (r: Run) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

export interface Server {
  /** The first match of `ready` in the output (e.g. the listening URL). */
  ready: RegExpExecArray;
  pid: number;
  /** stdout and stderr so far, interleaved (the last `keepChars` characters). */
  output(): string;
  /** Signals the process group and waits until every process holding its output has gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ServerOptions {
  env?: NodeJS.ProcessEnv;
  /** The output line that says the server is ready. */
  ready: RegExp;
  /** Longest wait for `ready` before the group is killed and the start fails. @default 120000 */
  timeoutMs?: number;
  /** How much output to keep for failure messages (a server logging every request must not grow without end). @default 50000 */
  keepChars?: number;
}

/** Starts `command` in its own process group and resolves once `ready` matches its output. */
export async function startServer(command: string, args: string[], options: ServerOptions): Promise<Server> {
  const keep = options.keepChars ?? 50_000;
  const name = [basename(command), ...args].join(' ');
  const child: ChildProcess = spawn(command, args, { cwd: ROOT, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  // 'close': every process of the group holding its output has gone, not just the first one.
  const closed = new Promise<void>((done) => child.on('close', () => done()));
  const pid = await new Promise<number>((done, fail) => {
    child.once('spawn', () => done(child.pid as number));
    child.once('error', fail);
  });
  let exited = false;
  void closed.then(() => (exited = true));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!exited) {
      try {
        process.kill(-pid, signal);
      } catch {
        // The group has already gone.
      }
    }
    await closed;
  };

  const ready = await new Promise<RegExpExecArray>((done, fail) => {
    const timer = setTimeout(() => {
      fail(new Error(`${name} did not say ${options.ready} within ${options.timeoutMs ?? 120_000} ms:\n${output}`));
    }, options.timeoutMs ?? 120_000);
    let waiting = true;
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-keep);
      const match = waiting ? options.ready.exec(output) : null;
      if (match) {
        waiting = false;
        clearTimeout(timer);
        done(match);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void closed.then(() => {
      clearTimeout(timer);
      fail(new Error(`${name} exited before it was ready:\n${output}`));
    });
  }).catch(async (err: unknown) => {
    await stop('SIGKILL');
    throw err;
  });
  return { ready, pid, output: () => output, stop };
}
