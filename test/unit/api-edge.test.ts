/**
 * What the API functions add at the edge: the public GET /queue reuses its queue depths for a few
 * seconds within a container (so anonymous callers cannot turn every request into SQS calls),
 * CORS headers for configured origins only, and one 415 for a body that is not JSON on every route
 * taking a body.
 */
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { resetClients } from '../../lambdas/adapters/aws-clients';
import { ROUTES, type Route } from '../../lambdas/config/routes';
import { handler } from '../../lambdas/handlers/api-read';
import { errorBody } from '../../lambdas/http/problem';

const sqs = mockClient(SQSClient);
const savedEnv = { ...process.env };

const event = {
  resource: '/queue',
  path: '/queue',
  httpMethod: 'GET',
  headers: { Host: 'api.example.org' },
  requestContext: { path: '/prod/queue' },
} as unknown as APIGatewayProxyEvent;

async function getQueue(): Promise<{ statusCode: number; headers?: Record<string, unknown>; body: string }> {
  return (await handler(event, {} as Context)) as never;
}

/** Each test starts well past any depths an earlier one cached. */
let clock = Date.now();

beforeEach(() => {
  clock += 60_000;
  jest.spyOn(Date, 'now').mockImplementation(() => clock);
  resetClients();
  sqs.reset();
  sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '3' } });
  process.env = {
    ...savedEnv,
    MAIN_QUEUE_URL: 'https://sqs/main',
    PRIORITY_QUEUE_URL: 'https://sqs/priority',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  };
});

afterEach(() => {
  jest.restoreAllMocks();
});

afterAll(() => {
  process.env = savedEnv;
});

it('asks SQS once per queue for any number of requests within the cache time, and says so', async () => {
  const answers = [await getQueue(), await getQueue()];
  clock += 2_000;
  answers.push(await getQueue());
  expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200]);
  expect(JSON.parse(answers[2]!.body)).toMatchObject({ incoming: 3, priority: 3 });
  expect(answers[0]!.headers?.['Cache-Control']).toBe('public, max-age=3');
  expect(sqs.commandCalls(GetQueueAttributesCommand)).toHaveLength(2);
  clock += 1_000;
  await getQueue();
  expect(sqs.commandCalls(GetQueueAttributesCommand)).toHaveLength(4);
});

it('asks every time when the cache is off', async () => {
  process.env.QUEUE_COUNTS_CACHE_SECONDS = '0';
  await getQueue();
  await getQueue();
  expect(sqs.commandCalls(GetQueueAttributesCommand)).toHaveLength(4);
});

describe('CORS', () => {
  const { withCors } = jest.requireActual('../../lambdas/http/api') as typeof import('../../lambdas/http/api');
  const answer = { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: '{}' };

  it('lets only a configured origin read the answer', () => {
    process.env.CORS_ALLOWED_ORIGINS = 'https://portal.example.org, https://other.example.org';
    expect(withCors(answer, 'https://portal.example.org').headers).toEqual({
      'Content-Type': 'application/json',
      'Access-Control-Allow-Origin': 'https://portal.example.org',
      Vary: 'Origin',
    });
    expect(withCors(answer, 'https://evil.example.org')).toBe(answer);
    expect(withCors(answer, undefined)).toBe(answer);
    delete process.env.CORS_ALLOWED_ORIGINS;
    expect(withCors(answer, 'https://portal.example.org')).toBe(answer);
  });
});

describe('a body that is not JSON', () => {
  // Every route the table says takes a body, so a new one is covered without a change here.
  const bodyRoutes = ROUTES.filter((route) => route.body);

  function post(route: Route, headers: Record<string, string>): Promise<{ statusCode: number; body: string }> {
    const path = route.resource.replace('{customer}', '7');
    const event = {
      resource: route.resource,
      path,
      httpMethod: route.method,
      headers: { Host: 'api.example.org', ...headers },
      pathParameters: { customer: '7' },
      // A body each route would act on as JSON: a new key's privileges (a submit refuses it only after reading it).
      body: '{"privileges":["read"]}',
      requestContext: { path: `/prod${path}`, authorizer: { key: 'kAdmin', admin: 'true', privileges: 'read,submit,manage' } },
    } as unknown as APIGatewayProxyEvent;
    const { handler: routeHandler } = jest.requireActual(`../../lambdas/handlers/${route.fn}`) as { handler: typeof handler };
    return routeHandler(event, {} as Context) as never;
  }

  it('is refused with the same 415 on every route taking a body', async () => {
    expect(bodyRoutes.length).toBeGreaterThan(0);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const answers = await Promise.all(bodyRoutes.map((route) => post(route, { 'Content-Type': type })));
      const expected = errorBody(415, `Content-Type must be application/json or application/ld+json, not '${type}'.`);
      expect(answers.map((a) => [a.statusCode, JSON.parse(a.body)])).toEqual(bodyRoutes.map(() => [415, expected]));
    }
    const untyped = await Promise.all(bodyRoutes.map((route) => post(route, {})));
    expect(untyped.map((a) => a.statusCode)).toEqual(bodyRoutes.map(() => 415));
  });
});
