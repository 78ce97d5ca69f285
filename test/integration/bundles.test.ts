/**
 * What deploys is what is tested: the other suites run the TypeScript sources, AWS runs the esbuild
 * bundles `cdk synth` builds. Here every function's bundle from the synthesized cloud assembly,
 * copied alone into an empty folder, loads under this Node (22 in CI) and answers one realistic
 * event of its kind, with the environment its template gives it (references made local), against
 * the local emulators (test/support/bundle-rehearsal.ts):
 * - the API functions and the authorizer stand in for the TypeScript handlers behind the local
 *   gateway, so requests reach them as API Gateway events with the authorizer's context;
 * - the consumers get SQS events made of the messages the bundled submit sent;
 * - the scheduled jobs run from the local runtime's schedules.
 * It catches a module left out of a bundle, an ESM/CJS slip, a built file the bundle needs (the
 * console's assets), and a variable the code reads that the template does not give the function
 * while the local runtime does. Synthesis (esbuild, once per function) takes most of the time.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { GetQueueAttributesCommand, type Message, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayAuthorizerResult, SQSEvent } from 'aws-lambda';
import { FUNCTION_NAMES, FUNCTIONS, type FunctionName, SCHEDULES } from '../../lambdas/config/functions';
import { ENV, QUEUES, type QueueName } from '../../lambdas/config/resources';
import { ROUTES } from '../../lambdas/config/routes';
import type { HandlerRegistry } from '../../local/handlers';
import { methodArn, policyAllows } from '../../local/http-adapter';
import { toSqsRecord } from '../../local/pollers';
import { BundleContainer, functionNameOf } from '../support/bundle-rehearsal';
import { type AssemblyFunction, assemblyFunctions, REPO_ROOT, synthesize } from '../support/cloud-assembly';
import { ADMIN, type ApiResult, basic, waitFor } from '../support/queue-client';
import { startTestRuntime, TEST_RUNTIME_ENV, type TestRuntime } from '../support/test-runtime';

const run = promisify(execFile);
const CUSTOMER = 7;

let assemblyDir: string | undefined;
let functions: AssemblyFunction[] = [];
let env: TestRuntime | undefined;
const containers = new Map<string, BundleContainer>();

/** The container of a template function, started on first use. */
function containerOf(fn: AssemblyFunction): BundleContainer {
  let container = containers.get(fn.logicalId);
  if (!container) {
    container = new BundleContainer(fn, localEnv());
    containers.set(fn.logicalId, container);
  }
  return container;
}

/** The template functions built from `name` (two for the per-queue processor, one for the others). */
const functionsOf = (name: FunctionName) => functions.filter((fn) => functionNameOf(fn) === name);

/** The container of the one function built from `name`. */
function the(name: FunctionName): BundleContainer {
  const built = functionsOf(name);
  if (built.length !== 1) throw new Error(`the cloud assembly has ${built.length} functions for ${name}`);
  return containerOf(built[0] as AssemblyFunction);
}

/** The processor of one queue: on AWS one function per queue (`perQueue`), e.g. `ProcessMain`. */
function processorOf(queue: QueueName): BundleContainer {
  const id = `${FUNCTIONS['process-images'].id}${QUEUES[queue].id}`;
  const fn = functionsOf('process-images').find((f) => f.constructPath.split('/').includes(id));
  if (!fn) throw new Error(`the cloud assembly has no ${id}`);
  return containerOf(fn);
}

/** Behind the local gateway and schedules, the bundles replace the TypeScript handlers. */
const BEHIND_THE_RUNTIME: FunctionName[] = [
  ...new Set<FunctionName>(ROUTES.map((r) => r.fn)),
  'authorizer',
  ...Object.values(SCHEDULES).map((s) => s.fn),
];
const registry: HandlerRegistry = Object.fromEntries(BEHIND_THE_RUNTIME.map((name) => [name, (event: unknown) => the(name).invoke(event)]));

beforeAll(async () => {
  // cdk.json's build step, when nothing built the console yet (`npm test` does, first).
  if (!existsSync(join(REPO_ROOT, 'console', 'dist', 'index.html'))) {
    await run('npm', ['run', 'build:console', '--silent'], { cwd: REPO_ROOT });
  }
  assemblyDir = mkdtempSync(join(tmpdir(), 'bundles-assembly-'));
  // The emulators start while esbuild bundles.
  const started = performance.now();
  const [synth, runtime] = await Promise.allSettled([
    synthesize(assemblyDir, { build: false, validation: false }).then(() =>
      console.log(`cdk synth: ${((performance.now() - started) / 1000).toFixed(1)} s`),
    ),
    startTestRuntime({ pollers: false, handlers: registry }),
  ]);
  if (runtime.status === 'fulfilled') env = runtime.value;
  if (synth.status === 'rejected') throw synth.reason;
  if (runtime.status === 'rejected') throw runtime.reason;
  functions = assemblyFunctions(assemblyDir);
});

afterAll(async () => {
  await Promise.all([...containers.values()].map((c) => c.stop()));
  await env?.stop();
  if (assemblyDir) rmSync(assemblyDir, { recursive: true, force: true });
});

/**
 * Makes a request through the local gateway and expects its status, or fails with what the
 * bundles behind it reported during the request.
 */
async function expectAnswer(request: () => Promise<ApiResult>, status: number, ...behind: FunctionName[]): Promise<ApiResult> {
  const seen = behind.map((name) => the(name).errors.length);
  const result = await request();
  if (result.status === status) return result;
  const reports = behind.map((name, i) => the(name).report(seen[i])).join('\n');
  throw new Error(`answered ${result.status}, not ${status}: ${JSON.stringify(result.body)?.slice(0, 300)}\n${reports}`);
}

function local(): TestRuntime {
  if (!env) throw new Error('the local runtime is not running');
  return env;
}
const api = () => local().api;
const localEnv = () => local().runtime.env;

/** Receives `count` messages from a queue (the pollers are off: they wait there). */
async function receive(queueUrl: string, count: number, timeoutMs = 30_000): Promise<Message[]> {
  const messages: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (messages.length < count) {
    if (Date.now() > deadline) throw new Error(`${messages.length} of ${count} messages arrived on ${queueUrl}`);
    const { Messages } = await local().runtime.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 2,
        VisibilityTimeout: 120,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    messages.push(...(Messages ?? []));
  }
  return messages;
}

/** An SQS event of `messages` from the queue at `queueUrl`, as Lambda's event source mapping builds it. */
async function sqsEvent(queueUrl: string, messages: Message[]): Promise<SQSEvent> {
  const { runtime } = local();
  const { Attributes } = await runtime.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return { Records: messages.map((m) => toSqsRecord(m, Attributes?.QueueArn as string, runtime.region)) };
}

/** The member message of `batch` among `messages`. */
function memberOf(messages: Message[], batch: number): Message {
  const message = messages.find((m) => JSON.parse(m.Body ?? '{}').b === batch);
  if (!message) throw new Error(`no member message of batch ${batch} among ${messages.map((m) => m.Body).join(', ')}`);
  return message;
}

it('has a bundle, with its source map, for every function, and every bundle is a function of FUNCTIONS', () => {
  expect(functions.filter((fn) => functionNameOf(fn) === undefined).map((fn) => fn.constructPath)).toEqual([]);
  expect(FUNCTION_NAMES.filter((name) => functionsOf(name).length === 0)).toEqual([]);
  // The logger maps logged errors through it (lambdas/observability/source-map.ts).
  expect(functions.filter((fn) => !existsSync(join(fn.bundleDir, 'index.js.map'))).map((fn) => fn.constructPath)).toEqual([]);
});

/** Batches the bundled submit creates, for the other functions to work on. */
const batches = { processed: 0, deadLettered: 0, cancelled: 0, priority: 0 };
/** The member message of the batch whose member the dead-letter recorder gets. */
let deadLetter: Message | undefined;

it('api-submit (behind the bundled authorizer) creates batches on both queues', async () => {
  const image = (id: string) => ({ id, space: 1, origin: `${local().origins.url}/png/40x30.png` });
  for (const [name, priority] of [
    ['processed', false],
    ['deadLettered', false],
    ['cancelled', false],
    ['priority', true],
  ] as const) {
    const result = await expectAnswer(
      () => api().submit(CUSTOMER, [image(`bundle-${name}`)], { priority }),
      201,
      'authorizer',
      'api-submit',
    );
    batches[name] = result.body.id;
  }
});

/** The batches the submit test created (the tests below work on them). */
function submitted(): typeof batches {
  if (Object.values(batches).some((id) => id === 0)) throw new Error('the submit test created no batches');
  return batches;
}

it('sample-load records the load the submits made', async () => {
  submitted();
  // It lists the customers through an index, which shows a write a moment after it (strict mode).
  let summary: unknown;
  await waitFor(async () => {
    summary = await local().runtime.schedules.runNow('sampleLoad');
    return (summary as { samples?: number }).samples !== 0;
  });
  // One sample for the customer and one for the sum of all customers.
  expect(summary).toEqual({ time: expect.any(String), samples: 1, items: 2 });
});

it('authorizer returns a policy allowing the admin credential, and refuses a wrong secret', async () => {
  const arn = methodArn('GET', '/queue/status');
  const result = await the('authorizer').invoke<APIGatewayAuthorizerResult>({
    type: 'TOKEN',
    authorizationToken: basic(ADMIN),
    methodArn: arn,
  });
  expect(result.principalId).toBe(ADMIN.key);
  expect(policyAllows(result.policyDocument, arn)).toBe(true);
  const wrong = { type: 'TOKEN', authorizationToken: basic({ ...ADMIN, secret: 'wrong' }), methodArn: arn };
  await expect(the('authorizer').invoke(wrong)).rejects.toThrow('Unauthorized');
});

it('api-read answers the public queue and a batch', async () => {
  const { processed } = submitted();
  await expectAnswer(() => api().get('/queue'), 200, 'api-read');
  const batch = await expectAnswer(() => api().get(`/customers/${CUSTOMER}/queue/batches/${processed}`), 200, 'authorizer', 'api-read');
  expect(batch.body).toMatchObject({ id: processed, count: 1 });
});

it('process-images (one function per queue) ingests the members the bundled submit enqueued', async () => {
  const { processed, deadLettered, priority } = submitted();
  const mainQueue = localEnv()[ENV.mainQueueUrl] as string;
  const priorityQueue = localEnv()[ENV.priorityQueueUrl] as string;
  const mainMessages = await receive(mainQueue, 3);
  const priorityMessages = await receive(priorityQueue, 1);
  const answers = [
    await processorOf('main').invoke(await sqsEvent(mainQueue, [memberOf(mainMessages, processed)])),
    await processorOf('priority').invoke(await sqsEvent(priorityQueue, priorityMessages)),
  ];
  expect(answers).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
  for (const batch of [processed, priority]) {
    expect(await api().batch(CUSTOMER, batch)).toMatchObject({ count: 1, completed: 1, errors: 0, finished: expect.any(String) });
  }
  deadLetter = memberOf(mainMessages, deadLettered);
});

it('record-dead-letters records a member that reached the dead-letter queue as an error', async () => {
  const { deadLettered } = submitted();
  if (!deadLetter?.Body) throw new Error('the processing test kept no member message for the dead-letter queue');
  // What SQS's redrive does after maxReceiveCount failed deliveries: the message moves to the DLQ.
  const dlq = localEnv()[ENV.mainDeadLetterQueueUrl] as string;
  await local().runtime.sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: deadLetter.Body }));
  const answer = await the('record-dead-letters').invoke(await sqsEvent(dlq, await receive(dlq, 1)));
  expect(answer).toEqual({ batchItemFailures: [] });
  expect(await api().batch(CUSTOMER, deadLettered)).toMatchObject({ count: 1, completed: 0, errors: 1 });
});

it('api-test-batch re-evaluates a batch', async () => {
  const { processed } = submitted();
  const path = `/customers/${CUSTOMER}/queue/batches/${processed}/test`;
  const result = await expectAnswer(() => api().call('POST', path), 200, 'authorizer', 'api-test-batch');
  expect(result.body).toEqual({ success: expect.any(Boolean) });
});

it('api-batch-actions cancels a batch', async () => {
  const { cancelled } = submitted();
  const path = `/customers/${CUSTOMER}/queue/batches/${cancelled}`;
  const result = await expectAnswer(() => api().call('DELETE', path), 200, 'authorizer', 'api-batch-actions');
  expect(result.body).toMatchObject({ id: cancelled });
});

it('run-tasks runs a supersede task the bundled submit sent', async () => {
  submitted();
  const tasks = localEnv()[ENV.tasksQueueUrl] as string;
  // The submit sends supersede tasks with a delay (SUPERSEDE_TASK_DELAY_SECONDS).
  const answer = await the('run-tasks').invoke(await sqsEvent(tasks, await receive(tasks, 1)));
  expect(answer).toEqual({ batchItemFailures: [] });
});

it('sweep-enqueueing returns its summary', async () => {
  const summary = await local().runtime.schedules.runNow('sweepEnqueueing');
  expect(summary).toEqual({ resumed: 0, notices: expect.any(Number) });
});

it('api-keys lists a customer’s keys', async () => {
  const result = await expectAnswer(() => api().get(`/customers/${CUSTOMER}/keys`), 200, 'authorizer', 'api-keys');
  expect(result.body.member).toEqual([]);
});

it('api-operator answers the queue status', async () => {
  await expectAnswer(() => api().get('/queue/status'), 200, 'authorizer', 'api-operator');
});

it('api-console serves the page and the assets it names, from its own bundle', async () => {
  const page = await expectAnswer(() => api().get('/console'), 200, 'api-console');
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const assets = [...String(page.body).matchAll(/(?:src|href)="(console\/assets\/[^"]+)"/g)].map((m) => `/${m[1]}`);
  expect(assets.length).toBeGreaterThan(0);
  for (const asset of assets) await expectAnswer(() => api().get(asset), 200, 'api-console');
});

it.each(FUNCTION_NAMES)('%s ran, read no variable that only the local runtime gives it, loaded nothing from outside its bundle', (name) => {
  for (const fn of functionsOf(name)) {
    const container = containers.get(fn.logicalId);
    // The suites' own settings (TEST_RUNTIME_ENV) are left at their DEFAULTS on AWS by design.
    const localOnly = container?.localOnlyReads(localEnv(), Object.keys(TEST_RUNTIME_ENV));
    expect({
      fn: fn.constructPath,
      invoked: (container?.invocations ?? 0) > 0,
      localOnly,
      foreign: [...(container?.foreignModules ?? [])],
    }).toEqual({
      fn: fn.constructPath,
      invoked: true,
      localOnly: [],
      foreign: [],
    });
  }
});
