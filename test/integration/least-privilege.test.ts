/**
 * Least privilege, checked against what the handlers really do: every AWS call each function makes
 * while a whole workload runs through the local runtime (submits, processing with errors,
 * supersession, the test route, every read, keys, operator routes, both schedules, a dead letter)
 * is recorded and must be covered by FUNCTION_GRANTS, the table the stack builds its IAM
 * statements from. A grant nothing used is reported too, unless it is listed with its reason.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { FunctionName } from '../../lambdas/config/functions';
import { FUNCTION_GRANTS } from '../../lambdas/config/grants';
import { ENV, QUEUES, type WorkQueueName } from '../../lambdas/config/resources';
import { DLQ_URL_ENV } from '../../local/provision';
import { type AwsCall, AwsCallRecorder } from '../support/aws-calls';
import { QueueClient, waitFor } from '../support/queue-client';
import { startTestRuntime, type TestRuntime } from '../support/test-runtime';

jest.setTimeout(300_000);

const FUNCTIONS = Object.keys(FUNCTION_GRANTS) as FunctionName[];
const recorder = new AwsCallRecorder(FUNCTIONS);
let env: TestRuntime;

/**
 * Grants the workload cannot reach cheaply, with why they are needed. Keep this list short: each
 * entry is a permission no test proves.
 */
const UNEXERCISED: Record<string, string> = {
  'sweep-enqueueing sqs:SendMessage main': 'the sweeper re-sends the messages of a submit that died mid-enqueue (faults-crash suite)',
  'sweep-enqueueing sqs:SendMessage priority': 'as above, for a priority batch',
  'sweep-enqueueing sqs:SendMessage tasks': 'as above, for the batch’s supersede task',
  'sweep-enqueueing dynamodb:UpdateItem table': 'as above: it marks the batch enqueued',
  'sweep-enqueueing dynamodb:BatchGetItem table': 'as above: it reads the stale batches the index names',
  'sweep-enqueueing dynamodb:Query table': 'as above: it lists the stale batch’s members',
  'api-test-batch dynamodb:UpdateItem table':
    'the test route writes only when it finds a missed supersession or an unfinished batch (domain tests)',
  'api-test-batch sns:Publish notices': 'as above: a batch the test route finishes is announced',
  'api-batch-actions sqs:SendMessage priority': 'a retry of a priority batch goes to the priority queue (batch-actions suite)',
  'process-images sqs:ChangeMessageVisibility priority':
    'a transient failure on the priority queue is retried after a short delay, as on main',
  'sweep-enqueueing sns:Publish notices': 'the sweeper sends a notice a crashed finisher left pending (batch-actions suite)',
};

/** `dynamodb:Query table`, `sqs:SendMessage main`: a call in the vocabulary of FUNCTION_GRANTS. */
function grantKeyOf(
  call: AwsCall,
  names: { table: string; credentials: string; topic: string; queues: Record<string, WorkQueueName> },
): string {
  if (call.service === 'sqs') return `sqs:${call.action} ${names.queues[call.resource] ?? call.resource}`;
  if (call.service === 'sns') return `sns:${call.action} ${call.resource === names.topic ? 'notices' : call.resource}`;
  const [table, , index] = call.resource.split('/');
  const which = table === names.table ? 'table' : table === names.credentials ? 'credentials' : table;
  return `dynamodb:${call.action} ${which}${index ? '/index' : ''}`;
}

function grantedKeys(fn: FunctionName): Set<string> {
  const grants = FUNCTION_GRANTS[fn];
  const keys = new Set<string>();
  for (const action of grants.table?.actions ?? []) keys.add(`dynamodb:${action} table`);
  if (grants.table?.indexes) keys.add('dynamodb:Query table/index');
  for (const action of grants.credentials ?? []) keys.add(`dynamodb:${action} credentials`);
  for (const [queue, actions] of Object.entries(grants.queues ?? {})) {
    for (const action of actions ?? []) keys.add(`sqs:${action} ${queue}`);
  }
  if (grants.notices) keys.add('sns:Publish notices');
  return keys;
}

beforeAll(async () => {
  recorder.install();
  env = await startTestRuntime({ pollerConcurrency: { main: 2, priority: 1, tasks: 1 } });
});

afterAll(async () => {
  await env?.stop();
  recorder.dispose();
});

it('every AWS call of every function is covered by its grants, and every grant is used', async () => {
  const { api, origins, runtime } = env;
  const customer = 41;
  const png = (n: number) => `${origins.url}/png/${n}x${n}.png`;

  // Keys: create (admin), list, a customer key used for the rest, revoke another.
  const created = await api.call('POST', `/customers/${customer}/keys`);
  expect(created.status).toBe(201);
  const spare = await api.call('POST', `/customers/${customer}/keys`, { privileges: ['read'] });
  expect((await api.get(`/customers/${customer}/keys`)).status).toBe(200);
  expect((await api.call('DELETE', `/customers/${customer}/keys/${spare.body.key}`)).status).toBe(204);
  const client = new QueueClient(runtime.apiUrl, { key: created.body.key, secret: created.body.secret });

  // Submits on both queues, the same assets twice (supersession runs on the tasks queue), one error.
  const first = await client.submitOk(customer, [
    { id: 'a', space: 1, origin: png(3) },
    { id: 'b', space: 1, origin: `${origins.url}/missing` },
  ]);
  // The same submit twice under one Idempotency-Key: the second answers the first batch.
  const replayed = [{ id: 'i', space: 2, origin: png(2) }];
  const once = await client.submit(customer, replayed, { idempotencyKey: 'least-privilege-1' });
  const again = await client.submit(customer, replayed, { idempotencyKey: 'least-privilege-1' });
  expect([once.status, again.status, again.body['@id']]).toEqual([201, 200, once.body['@id']]);
  const second = await client.submitOk(
    customer,
    [
      { id: 'a', space: 1, origin: png(4) },
      { id: 'b', space: 1, origin: png(5) },
    ],
    { priority: true },
  );
  await client.waitForFinished(customer, [first, second]);
  await waitFor(async () => (await client.batch(customer, first)).superseded === true, {
    timeoutMs: 30_000,
    description: 'the first batch superseded',
  });

  // Retry of the first batch's error member, and a cancel; an origin failing once (a short retry
  // delay on its message).
  const retried = await client.call('POST', `/customers/${customer}/queue/batches/${first}/retry`);
  expect(retried.status).toBe(201);
  const flaky = await client.submitOk(customer, [{ id: 'f', space: 3, origin: `${origins.url}/flaky/least-privilege/1/png/2x2.png` }]);
  // The cancel must find its member not yet picked up, so that the DELETE itself finishes the batch
  // (and publishes its notice): the main queue's pollers wait until it has answered.
  runtime.pollers?.pause('main');
  const cancelled = await client.submitOk(customer, [{ id: 'x', space: 3, origin: `${origins.url}/delay/3000/png/2x2.png` }]);
  expect((await client.call('DELETE', `/customers/${customer}/queue/batches/${cancelled}`)).status).toBe(200);
  runtime.pollers?.resume('main');
  await client.waitForFinished(customer, [retried.body.id, flaky, cancelled]);

  // The test route, and every read.
  expect((await client.call('POST', `/customers/${customer}/queue/batches/${first}/test`)).status).toBe(200);
  for (const path of [
    '/queue',
    `/customers/${customer}/queue`,
    `/customers/${customer}/queue/batches`,
    `/customers/${customer}/queue/active`,
    `/customers/${customer}/queue/recent`,
    `/customers/${customer}/queue/images`,
    `/customers/${customer}/queue/batches/${first}`,
    `/customers/${customer}/queue/batches/${first}/images`,
    `/customers/${customer}/queue/batches/${first}/completedImages`,
    `/customers/${customer}/queue/batches/${first}/errorImages`,
    `/customers/${customer}/spaces/1/images/a`,
    '/queue/load',
  ]) {
    expect([path, (await client.get(path)).status]).toEqual([path, 200]);
  }
  expect((await api.get('/queue/status')).status).toBe(200);

  // Both schedules (the sampler while an image is being fetched, so it has load to record), and
  // a member message that reached the main dead-letter queue.
  await runtime.schedules.runNow('sweepEnqueueing');
  const third = await client.submitOk(customer, [{ id: 'c', space: 1, origin: `${origins.url}/slow` }]);
  // The customer list is an index, which lags a moment behind the submit.
  await waitFor(async () => ((await runtime.schedules.runNow('sampleLoad')) as { samples: number }).samples > 0, {
    timeoutMs: 10_000,
    description: 'a load sample of the running image',
  });
  await runtime.sqs.send(
    new SendMessageCommand({
      QueueUrl: runtime.env[DLQ_URL_ENV.main],
      MessageBody: JSON.stringify({ c: customer, b: third, i: 0 }),
    }),
  );
  // The recorder finishes the batch and then announces it: wait for its invocation to end, or the
  // notice's sns:Publish may come after the comparison.
  await waitFor(async () => (await client.batch(customer, third)).errors === 1 && runtime.pollers?.inFlight('main-dlq') === 0, {
    timeoutMs: 60_000,
    description: 'the dead-lettered member recorded and the recorder done',
  });

  // Compare.
  const names = {
    table: runtime.env[ENV.tableName] as string,
    credentials: runtime.env[ENV.credentialsTableName] as string,
    topic: runtime.env[ENV.noticesTopicArn] as string,
    queues: Object.fromEntries((Object.keys(QUEUES) as WorkQueueName[]).map((q) => [runtime.env[QUEUES[q].urlEnv] as string, q])),
  };
  const ungranted: string[] = [];
  const used = new Set<string>();
  for (const [fn, calls] of recorder.calls) {
    if (!FUNCTIONS.includes(fn as FunctionName)) continue; // the test's own calls
    const granted = grantedKeys(fn as FunctionName);
    for (const call of calls.values()) {
      const key = grantKeyOf(call, names);
      used.add(`${fn} ${key}`);
      if (!granted.has(key)) ungranted.push(`${fn} ${key}`);
    }
  }
  expect(ungranted).toEqual([]);
  const unused = FUNCTIONS.flatMap((fn) => [...grantedKeys(fn)].map((key) => `${fn} ${key}`)).filter(
    (grant) => !used.has(grant) && !(grant in UNEXERCISED),
  );
  expect(unused).toEqual([]);
});
