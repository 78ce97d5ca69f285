/**
 * The custom metrics (lambdas/adapters/metrics.ts): real origin failures classified into the
 * FailureKind dimension, the EMF lines written (captured from stdout) and when none are, and the two
 * emitting handlers run against a fake store: record-dead-letters counts ImagesDeadLettered and
 * BatchesFinished, process-images counts OriginFailures and BatchesFinished.
 */
import { type AddressInfo, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { originFailureKind } from '../../lambdas/adapters/metrics';
import { type IngestOptions, ingestOrigin } from '../../lambdas/adapters/origin';
import { METRICS } from '../../lambdas/config/metrics';
import type { MemberRecord } from '../../lambdas/domain/model';
import type { MemberRef, QueueStore } from '../../lambdas/domain/ports';
import { fakeContext } from '../../local/handlers';
import { type OriginServer, startOriginServer } from '../support/origin-server';
import { aBatch, aMember } from '../support/records';
import { memberRecord } from '../support/test-runtime';

type MetricsModule = typeof import('../../lambdas/adapters/metrics');
type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** The store every handler gets from `queueStore()` in this file (set per test). */
let mockStore: Partial<QueueStore> = {};
jest.mock('../../lambdas/adapters', () => ({ queueStore: () => mockStore }));

const ENV_KEYS = ['AWS_LAMBDA_FUNCTION_NAME', 'POWERTOOLS_METRICS_DISABLED', 'POWERTOOLS_DEV', METRICS.serviceEnv, 'ALLOW_PRIVATE_ORIGINS'];
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

/** Everything written to stdout (EMF, info logs) and stderr (warnings, error logs), kept off the terminal. */
let stdout: string[] = [];
let stderr: string[] = [];
let spies: jest.SpyInstance[] = [];

/** The EMF documents written so far. */
const emf = (): any[] =>
  stdout
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line));

/** Fresh modules (so the lazily created Metrics instance reads this test's environment). */
function load<T>(path: string): T {
  let loaded: T | undefined;
  jest.isolateModules(() => {
    loaded = require(path) as T;
  });
  return loaded as T;
}

beforeEach(() => {
  stdout = [];
  stderr = [];
  spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => stdout.push(String(chunk)) > 0),
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => stderr.push(String(chunk)) > 0),
  ];
  for (const k of ENV_KEYS) delete process.env[k];
  // As in Lambda, where the stack sets the service to its name.
  process.env.AWS_LAMBDA_FUNCTION_NAME = 'ImageQueue-ProcessMain';
  process.env[METRICS.serviceEnv] = 'ImageQueue';
});

afterEach(() => {
  for (const spy of spies) spy.mockRestore();
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('originFailureKind on the failures ingestOrigin really reports', () => {
  let server: OriginServer;
  let garbage: Server;
  let garbageUrl: string;
  const sockets = new Set<Socket>();
  const local: IngestOptions = { timeoutMs: 5_000, maxBytes: 1024 * 1024, allowPrivate: true };
  const guarded: IngestOptions = { ...local, allowPrivate: false };

  beforeAll(async () => {
    server = await startOriginServer();
    // Answers anything with bytes that are not HTTP.
    garbage = createTcpServer((socket) => {
      sockets.add(socket.on('close', () => sockets.delete(socket)));
      socket.end('this is not HTTP\r\n\r\n');
    });
    await new Promise<void>((done) => garbage.listen(0, '127.0.0.1', done));
    garbageUrl = `http://127.0.0.1:${(garbage.address() as AddressInfo).port}/a.png`;
  });

  afterAll(async () => {
    await server.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((done) => garbage.close(done));
  });

  async function kindOf(origin: string, options: IngestOptions): Promise<string> {
    const result = await ingestOrigin(origin, options);
    if (result.ok) throw new Error(`${origin} did not fail`);
    return originFailureKind(result.error);
  }

  it.each([
    ['/missing', 'http-4xx'],
    ['/error500', 'http-5xx'],
    ['/text', 'not-an-image'],
    ['/redirect-loop', 'redirect'],
    [`/redirect?to=${encodeURIComponent('file:///etc/passwd')}`, 'redirect'],
  ])('%s is %s', async (path, kind) => {
    expect(await kindOf(`${server.url}${path}`, local)).toBe(kind);
  });

  it('a body over the limit is too-large, declared or streamed', async () => {
    expect(await kindOf(`${server.url}/huge`, local)).toBe('too-large');
    expect(await kindOf(`${server.url}/huge-chunked`, { ...local, maxBytes: 256 * 1024 })).toBe('too-large');
  });

  it('no answer in time is a timeout', async () => {
    expect(await kindOf(`${server.url}/slow`, { ...local, timeoutMs: 300 })).toBe('timeout');
  });

  it('a refused connection is network', async () => {
    const gone = await startOriginServer();
    const url = `${gone.url}/png/1x1.png`;
    await gone.close();
    expect(await kindOf(url, local)).toBe('network');
  });

  it('bytes that are not HTTP are invalid-response; TLS to a plain HTTP port is tls', async () => {
    expect(await kindOf(garbageUrl, local)).toBe('invalid-response');
    expect(await kindOf(`${server.url.replace('http:', 'https:')}/png/1x1.png`, local)).toBe('tls');
  });

  it('private addresses are forbidden-address, whether literal or resolved', async () => {
    expect(await kindOf(`${server.url}/png/1x1.png`, guarded)).toBe('forbidden-address');
    expect(await kindOf(`http://localhost:${server.port}/png/1x1.png`, guarded)).toBe('forbidden-address');
  });

  it('malformed or non-http URLs are invalid-url; a host that does not exist is dns', async () => {
    expect(await kindOf('not a url', guarded)).toBe('invalid-url');
    expect(await kindOf('ftp://example.com/a.png', guarded)).toBe('invalid-url');
    expect(await kindOf('http://no-such-host.invalid/a.png', local)).toBe('dns');
  });

  it('anything it does not recognise is other', () => {
    expect(originFailureKind('ingest failed: boom')).toBe('other');
    expect(originFailureKind('origin could not be resolved (temporary DNS failure)')).toBe('network');
  });
});

describe('EMF output', () => {
  it('writes one line per failure kind and one for the plain counts, in the namespace with the service dimension', () => {
    const { InvocationMetrics } = load<MetricsModule>('../../lambdas/adapters/metrics');
    const observed = new InvocationMetrics();
    observed.originFailed('timeout');
    observed.originFailed('http-4xx');
    observed.originFailed('timeout');
    observed.imagesDeadLettered(3);
    observed.batchFinished();
    observed.batchFinished();
    observed.publish();

    const docs = emf();
    expect(docs).toHaveLength(3);
    for (const doc of docs) {
      expect(doc._aws.CloudWatchMetrics[0].Namespace).toBe(METRICS.namespace);
      expect(doc[METRICS.serviceDimension]).toBe('ImageQueue');
    }
    const byKind = docs.filter((d) => d[METRICS.failureKindDimension]);
    expect(Object.fromEntries(byKind.map((d) => [d[METRICS.failureKindDimension], d[METRICS.names.originFailures]]))).toEqual({
      timeout: 2,
      'http-4xx': 1,
    });
    for (const doc of byKind) {
      expect(doc._aws.CloudWatchMetrics[0].Dimensions).toEqual([[METRICS.serviceDimension, METRICS.failureKindDimension]]);
      expect(doc._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: METRICS.names.originFailures, Unit: 'Count' }]);
    }
    const [plain] = docs.filter((d) => !d[METRICS.failureKindDimension]);
    expect(plain._aws.CloudWatchMetrics[0].Dimensions).toEqual([[METRICS.serviceDimension]]);
    expect(plain[METRICS.names.imagesDeadLettered]).toBe(3);
    expect(plain[METRICS.names.batchesFinished]).toBe(2);

    // Published means forgotten: a second publish writes nothing.
    stdout = [];
    observed.publish();
    expect(stdout).toEqual([]);
  });

  it('writes nothing, not even a warning, when nothing was observed', () => {
    const { InvocationMetrics } = load<MetricsModule>('../../lambdas/adapters/metrics');
    new InvocationMetrics().publish();
    expect(stdout).toEqual([]);
    expect(stderr).toEqual([]);
  });

  it.each([
    ['outside Lambda (local runtime, tests)', 0, { AWS_LAMBDA_FUNCTION_NAME: undefined }],
    ['outside Lambda when asked for', 1, { AWS_LAMBDA_FUNCTION_NAME: undefined, POWERTOOLS_METRICS_DISABLED: 'false' }],
    ['in Lambda with POWERTOOLS_METRICS_DISABLED=true', 0, { POWERTOOLS_METRICS_DISABLED: 'true' }],
    ['in Lambda with POWERTOOLS_DEV', 0, { POWERTOOLS_DEV: 'true' }],
  ] as Array<[string, number, Record<string, string | undefined>]>)('%s: %i EMF line(s)', (_, lines, env) => {
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined); // POWERTOOLS_DEV logs via console
    try {
      const { InvocationMetrics } = load<MetricsModule>('../../lambdas/adapters/metrics');
      const observed = new InvocationMetrics();
      observed.batchFinished();
      observed.publish();
      expect(emf().length + log.mock.calls.filter(([line]) => String(line).includes('"_aws"')).length).toBe(lines);
    } finally {
      log.mockRestore();
    }
  });

  it('counts a finished batch only when finalizeBatch says this call finished it', async () => {
    const { InvocationMetrics, countingFinishedBatches } = load<MetricsModule>('../../lambdas/adapters/metrics');
    const observed = new InvocationMetrics();
    const done = aBatch({ customer: 1, batch: 2, remaining: 0, completed: 4, finished: '2026-01-01T00:01:00.000Z' });
    const answers = [undefined, done, undefined];
    const calls: number[][] = [];
    const counting = countingFinishedBatches(
      {
        finalizeBatch: async (customer: number, batch: number, count?: number) => {
          calls.push([customer, batch, count ?? -1]);
          return answers.shift()!;
        },
      },
      observed,
    );
    for (let i = 0; i < 3; i++) expect(await counting.finalizeBatch(1, 2, 4)).toBe(i === 1 ? done : undefined);
    expect(calls).toEqual([
      [1, 2, 4],
      [1, 2, 4],
      [1, 2, 4],
    ]);
    observed.publish();
    expect(emf().map((d) => d[METRICS.names.batchesFinished])).toEqual([1]);
  });
});

describe('handlers', () => {
  const context = () => fakeContext('ImageQueue-test', 30);
  const refOf = (m: MemberRef) => `${m.customer}/${m.batch}/${m.index}`;

  /** A store holding `members`, finishing their batch on the first finalizeBatch. */
  function fakeStore(members: MemberRecord[], options: { failTransitions?: boolean } = {}) {
    const finished = new Set<string>();
    const transitions: string[] = [];
    mockStore = {
      getMembers: async (refs: readonly MemberRef[]) => members.filter((m) => refs.some((r) => refOf(r) === refOf(m))),
      getBatchStates: async (refs) =>
        refs.map((r) => ({ customer: r.customer, batch: r.batch, queue: 'main', count: members.length, submitted: 'x', started: 'x' })),
      startBatches: async () => undefined,
      applyTransitions: async (ts) => {
        if (options.failTransitions) throw new Error('DynamoDB is down');
        transitions.push(...ts.map((t) => `${refOf(t.member)}:${t.to}`));
        return { applied: [...ts], skipped: [] };
      },
      finalizeBatch: async (customer: number, batch: number) => {
        if (finished.has(`${customer}/${batch}`)) return undefined;
        finished.add(`${customer}/${batch}`);
        return aBatch({ customer, batch, remaining: 0, finished: '2026-01-01T00:01:00.000Z' });
      },
    };
    return { transitions };
  }

  it('record-dead-letters counts each member it recorded and the batch it finished', async () => {
    const members = [aMember({ batch: 7, index: 0 }), aMember({ batch: 7, index: 1 })];
    const { transitions } = fakeStore(members);
    const { handler } = load<{ handler: Handler }>('../../lambdas/handlers/record-dead-letters');
    const garbage = { ...memberRecord(1, 7, 9, 'garbage'), body: 'not a member' };
    const response = await handler({ Records: [memberRecord(1, 7, 0, 'a'), memberRecord(1, 7, 1, 'b'), garbage] }, context());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(transitions.sort()).toEqual(['1/7/0:error', '1/7/1:error']);
    const docs = emf();
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ [METRICS.names.imagesDeadLettered]: 2, [METRICS.names.batchesFinished]: 1 });
    // Each dead-lettered image is named in the log.
    const named = stderr.filter((l) => l.includes('image dead-lettered')).map((l) => JSON.parse(l).member);
    expect(named.sort()).toEqual(['1/7/0', '1/7/1']);
  });

  it('record-dead-letters counts nothing when recording fails (the retry will)', async () => {
    fakeStore([aMember({ batch: 7, index: 0 })], { failTransitions: true });
    const { handler } = load<{ handler: Handler }>('../../lambdas/handlers/record-dead-letters');
    const response = await handler({ Records: [memberRecord(1, 7, 0, 'a')] }, context());
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'a' }] });
    expect(emf()).toEqual([]);
  });

  it('process-images counts failed origin fetches by kind and the batch it finished', async () => {
    const server = await startOriginServer();
    try {
      process.env.ALLOW_PRIVATE_ORIGINS = 'true';
      const members = [
        aMember({ batch: 8, index: 0, origin: `${server.url}/missing` }),
        aMember({ batch: 8, index: 1, origin: `${server.url}/text` }),
        aMember({ batch: 8, index: 2, origin: `${server.url}/png/2x2.png` }),
      ];
      const { transitions } = fakeStore(members);
      const { handler } = load<{ handler: Handler }>('../../lambdas/handlers/process-images');
      const response = await handler({ Records: members.map((m, i) => memberRecord(1, 8, m.index, `m${i}`)) }, context());

      expect(response).toEqual({ batchItemFailures: [] });
      expect(transitions.sort()).toEqual(['1/8/0:error', '1/8/1:error', '1/8/2:completed']);
      const docs = emf();
      const failures = Object.fromEntries(
        docs.filter((d) => d[METRICS.failureKindDimension]).map((d) => [d[METRICS.failureKindDimension], d[METRICS.names.originFailures]]),
      );
      expect(failures).toEqual({ 'http-4xx': 1, 'not-an-image': 1 });
      expect(docs.filter((d) => d[METRICS.names.batchesFinished] !== undefined).map((d) => d[METRICS.names.batchesFinished])).toEqual([1]);
    } finally {
      await server.close();
    }
  });
});
