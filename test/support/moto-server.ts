/**
 * moto_server (moto, Python: an independent implementation of DynamoDB, SQS, SNS and more) as a
 * child process on a free port of 127.0.0.1, for suites that run the service on a second
 * implementation of AWS. Its state is in memory: killing it loses nothing worth keeping.
 */
import { type Server, startServer } from './child-processes';

export const MOTO_SERVER = 'moto_server';

export interface MotoServer {
  /** e.g. http://127.0.0.1:41234: DynamoDB, SQS and SNS all answer here. */
  endpoint: string;
  pid: number;
  /** The tail of the server's log (errors, tracebacks) without its lines for requests answered 200, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startMotoServer(executable: string): Promise<MotoServer> {
  // Port 0: the server binds a free port and prints it ("* Running on http://127.0.0.1:41234").
  const server: Server = await startServer(executable, ['-H', '127.0.0.1', '-p', '0'], {
    env: process.env,
    ready: /Running on (http:\/\/127\.0\.0\.1:\d+)/,
    // A cold start (Python compiling moto) took 8 s here, a warm one 3 s.
    timeoutMs: 40_000,
  });
  const endpoint = server.ready[1] as string;
  try {
    const answer = await fetch(endpoint);
    if (!answer.ok) throw new Error(`${endpoint} answered ${answer.status}`);
  } catch (err) {
    await server.stop('SIGKILL');
    throw new Error(`moto_server printed ${endpoint} but does not answer there: ${(err as Error).message}\n${server.output()}`);
  }
  return {
    endpoint,
    pid: server.pid,
    output: () =>
      server
        .output()
        .split('\n')
        .filter((line) => !/^[\d.]+ - - \[[^\]]+\] "[^"]*" 200 /.test(line))
        .join('\n'),
    // SIGKILL: after some load, moto's SIGTERM handler took over 40 s to exit here; nothing is lost.
    stop: () => server.stop('SIGKILL'),
  };
}
