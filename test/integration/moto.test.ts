/**
 * The service on a second, independent implementation of DynamoDB, SQS and SNS: moto_server (moto,
 * Python). Run as a user runs it: moto_server on a free port, the service started with
 * AWS_ENDPOINT_URL pointing at it (so it provisions its table and queues there), `image-queue smoke`
 * against its API, then the reconcile command its banner prints.
 *
 * The service is `tsx local/main.ts`, which `npm start` runs after building the console: the console
 * is not what this checks, and that build empties the folder other suites serve the console from.
 *
 * Where moto_server is not on PATH the suite is skipped with one notice line on the terminal;
 * under CI (`CI` set) it fails instead, because CI machines have moto and must run it.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { QUEUES } from '../../lambdas/config/resources';
import { LOCAL_PREFIX_ENV } from '../../local/endpoints';
import { credentialsTableNameFor, localDynamoClient, localSqsClient, queueNameFor } from '../../local/provision';
import { STRICT_DYNAMODB_ENV } from '../../local/strict-dynamodb';
import { run, type Server, said, startServer } from '../support/child-processes';
import { MOTO_SERVER, type MotoServer, startMotoServer } from '../support/moto-server';
import { type OriginServer, startOriginServer } from '../support/origin-server';
import { ADMIN } from '../support/queue-client';
import { requiredTool } from '../support/required-tool';

jest.setTimeout(120_000);

const SHIM = 'cli/bin/image-queue.cjs';
const TSX = require.resolve('tsx/cli');
const PREFIX = 'moto-smoke';
// The developer's shell must not decide where the service goes or how: no endpoints, strict mode,
// prefix, port or CLI settings of its own.
const shellOnly = (name: string) =>
  name.startsWith('IMAGE_QUEUE_') || name.startsWith('AWS_ENDPOINT_URL') || [STRICT_DYNAMODB_ENV, LOCAL_PREFIX_ENV, 'PORT'].includes(name);
const BASE_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !shellOnly(name)));

const motoServer = requiredTool(MOTO_SERVER, "pip install 'moto[server]==5.2.1'", 'test/integration/moto.test.ts');

(motoServer ? describe : describe.skip)('the service on moto_server', () => {
  let moto: MotoServer | undefined;
  let service: Server | undefined;
  let origins: OriginServer | undefined;
  let apiUrl: string;

  beforeAll(async () => {
    // One at a time, so that whatever started is stopped by afterAll even if the next fails.
    origins = await startOriginServer();
    moto = await startMotoServer(motoServer as string);
    // `AWS_ENDPOINT_URL=http://127.0.0.1:<port> npm start`, as local/README.md tells a user.
    service = await startServer(process.execPath, [TSX, 'local/main.ts'], {
      env: { ...BASE_ENV, AWS_ENDPOINT_URL: moto.endpoint, PORT: '0', [LOCAL_PREFIX_ENV]: PREFIX },
      ready: /^ {2}API: +(http\S+)$/m,
      timeoutMs: 40_000,
    });
    apiUrl = service.ready[1] as string;
    // Longer than both starts' own limits, which kill what they started: nothing outlives a slow start.
  }, 100_000);

  afterAll(async () => {
    await service?.stop();
    await Promise.all([moto?.stop(), origins?.close()]);
  });

  /** What the service and moto said, for a failure message. */
  const logs = () => `--- service\n${service?.output()}\n--- moto_server (requests answered 200 left out)\n${moto?.output()}`;

  test('the service uses moto for DynamoDB and SQS and provisions its table and queues there', async () => {
    const endpoint = (moto as MotoServer).endpoint;
    expect(service?.output()).toMatch(new RegExp(`DynamoDB: +external ${endpoint} +table ${PREFIX}$`, 'm'));
    expect(service?.output()).toMatch(new RegExp(`SQS: +external ${endpoint} `, 'm'));

    const dynamo = localDynamoClient(endpoint);
    const sqs = localSqsClient(endpoint);
    try {
      const { TableNames } = await dynamo.send(new ListTablesCommand({}));
      expect(TableNames?.sort()).toEqual([PREFIX, credentialsTableNameFor(PREFIX)].sort());
      const { QueueUrls } = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: PREFIX }));
      const queues = Object.keys(QUEUES) as Array<keyof typeof QUEUES>;
      const names = queues.flatMap((q) => [queueNameFor(PREFIX, q), queueNameFor(PREFIX, q, true)]);
      expect(QueueUrls?.map((url) => url.split('/').pop()).sort()).toEqual(names.sort());
    } finally {
      dynamo.destroy();
      sqs.destroy();
    }
  });

  test('image-queue smoke passes against its API', async () => {
    const key = `${ADMIN.key}:${ADMIN.secret}`;
    const origin = `${origins?.url}/png/16x16.png`;
    const result = await run(
      process.execPath,
      [SHIM, 'smoke', '--api', apiUrl, '--key', key, '--origin', origin, '--timeout', '60'],
      BASE_ENV,
    );

    expect(result.code === 0 ? 'passed' : `${said(result)}\n${logs()}`).toBe('passed');
    expect(result.stdout).toMatch(/^PASS: \d+ passed, 0 failed$/m);
  });

  test("the reconcile command of the service's banner finds the smoke's batches in moto with no drift", async () => {
    // e.g. "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:41234 npm run reconcile -- --table moto-smoke"
    const advice = /^ +(AWS_ENDPOINT_URL_DYNAMODB)=(\S+) npm run reconcile -- --table (\S+)$/m.exec(service?.output() ?? '');
    expect(advice).not.toBeNull();
    const [, variable, endpoint, table] = advice as RegExpExecArray;

    const env = { ...BASE_ENV, [variable as string]: endpoint };
    const result = await run('npm', ['run', 'reconcile', '--', '--table', table as string], env);

    expect(result.code === 0 ? 'no drift' : `${said(result)}\n${logs()}`).toBe('no drift');
    // The smoke's customer with its two batches of one image each: the data is in moto.
    expect(result.stdout).toMatch(new RegExp(`^table ${PREFIX}: 1 customers, 2 batches, 2 members$`, 'm'));
    expect(result.stdout).toMatch(/^no drift/m);
  });
});
