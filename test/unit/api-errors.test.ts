/**
 * The edge of every API function (lambdas/http/api.ts): the domain's errors answered through the
 * one table (lambdas/http/domain-errors.ts), HttpErrors as they are, anything else a logged 500;
 * and the logger's per-request keys reset after each invocation (Powertools' injectLambdaContext).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import {
  BadPageTokenError,
  BatchNotFoundError,
  ConflictError,
  ForbiddenError,
  QueueFullError,
  ValidationFailedError,
} from '../../lambdas/domain/errors';
import { apiHandler } from '../../lambdas/http/api';
import { DOMAIN_ERROR_RESPONSES } from '../../lambdas/http/domain-errors';
import { HttpError } from '../../lambdas/http/problem';
import { logger } from '../../lambdas/observability/logger';

// ---- Prepare ------------------------------------------------------------------------------------

// A route with a function of its own (api-test-batch serves only it), so the stand-in below serves every route of it.
const RESOURCE = '/customers/{customer}/queue/batches/{batch}/test';
const event = {
  resource: RESOURCE,
  path: '/customers/1/queue/batches/9/test',
  httpMethod: 'POST',
  headers: { Host: 'api.example.org' },
  requestContext: { path: '/customers/1/queue/batches/9/test' },
} as unknown as APIGatewayProxyEvent;

const context = { functionName: 'image-queue-test', awsRequestId: 'req-1' } as Context;

/** What an API function answers when its route throws `error`. */
async function answerTo(error: unknown): Promise<APIGatewayProxyResult & { json: Record<string, unknown> }> {
  const handler = apiHandler('api-test-batch', {
    'POST /customers/{customer}/queue/batches/{batch}/test': async () => {
      throw error;
    },
  });
  const result = (await handler(event, context)) as APIGatewayProxyResult;
  return { ...result, json: JSON.parse(result.body) as Record<string, unknown> };
}

afterEach(() => jest.restoreAllMocks());

// ---- Act and assess ----------------------------------------------------------------------------

describe('errors at the edge', () => {
  it('answers a full queue 503 with Retry-After, in the domain error’s words', async () => {
    const answer = await answerTo(new QueueFullError(7, 95, 100, 10));
    expect(answer.statusCode).toBe(503);
    expect(answer.headers?.['Retry-After']).toBe('60');
    expect(answer.json).toMatchObject({
      '@type': 'Error',
      statusCode: 503,
      detail: "Customer 7's queue holds 95 images; accepting 10 more would exceed its limit of 100. Nothing was queued; retry later.",
    });
  });

  it('lists the member problems of a failed validation (422)', async () => {
    const problems = [{ member: 0, field: 'id', message: 'is required' }];
    const answer = await answerTo(new ValidationFailedError('1 problem in the submitted members; nothing was queued.', problems));
    expect(answer.statusCode).toBe(422);
    expect(answer.json.errors).toEqual(problems);
  });

  it.each([
    [new BatchNotFoundError(1, 9), 404, 'Customer 1 has no batch 9.'],
    [new ConflictError('Batch 9 has no error members to retry: it finished without errors.'), 409, undefined],
    [new ForbiddenError('This key may not read the queue load.'), 403, undefined],
    [new BadPageTokenError(), 400, "The 'page' token is not one this API issued for this collection."],
  ])('answers %s with its status', async (error, status, detail) => {
    const answer = await answerTo(error);
    expect(answer.statusCode).toBe(status);
    expect(answer.json.detail).toBe(detail ?? error.message);
  });

  it('gives every kind of domain error a client-error or unavailable status', () => {
    for (const { status } of Object.values(DOMAIN_ERROR_RESPONSES)) expect([400, 403, 404, 409, 422, 503]).toContain(status);
  });

  it('passes an HttpError through and hides anything else behind a logged 500', async () => {
    jest.spyOn(logger, 'error').mockImplementation(() => undefined);
    expect((await answerTo(new HttpError(415, 'Content-Type must be application/json.'))).statusCode).toBe(415);
    const answer = await answerTo(new Error('socket hang up'));
    expect(answer.statusCode).toBe(500);
    expect(String(answer.json.detail)).not.toContain('socket');
    expect(logger.error).toHaveBeenCalledTimes(1);
  });
});

describe('logger context', () => {
  it('adds the Lambda context and the route to each invocation, and resets the route keys after it', async () => {
    const addContext = jest.spyOn(logger, 'addContext');
    const appendKeys = jest.spyOn(logger, 'appendKeys');
    const resetKeys = jest.spyOn(logger, 'resetKeys');
    await answerTo(new BatchNotFoundError(1, 1));
    await answerTo(new BatchNotFoundError(1, 2));
    expect(addContext).toHaveBeenCalledWith(context);
    expect(appendKeys).toHaveBeenCalledWith({ resource: RESOURCE, method: 'POST' });
    expect(resetKeys).toHaveBeenCalledTimes(2);
    expect(resetKeys.mock.invocationCallOrder[0]).toBeGreaterThan(appendKeys.mock.invocationCallOrder[0] as number);
  });
});
