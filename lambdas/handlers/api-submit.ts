/** POST /customers/{c}/queue and /queue/priority: validate the collection, create the batch. */
import { queueStore, workQueue } from '../adapters';
import { settings } from '../config/settings';
import { hashBody, submitBatch } from '../domain/submit';
import { validateMembers } from '../domain/validation';
import { authorizedCustomer } from '../http/access';
import { apiHandler, type RouteFunction } from '../http/api';
import { batchResource, urls } from '../http/hydra';
import { parameterValue } from '../http/parameter-schemas';
import { HttpError } from '../http/problem';
import { parseCollection } from '../http/submit-body';

const submit =
  (queue: 'main' | 'priority'): RouteFunction =>
  async (request) => {
    const customer = authorizedCustomer(request);
    if (request.body !== undefined && Buffer.byteLength(request.body) > settings.maxBodyBytes()) {
      throw new HttpError(413, `The request body is larger than ${settings.maxBodyBytes()} bytes.`);
    }
    const assets = validateMembers(parseCollection(request.body), settings.maxBatchSize());
    const idempotencyKey = parameterValue('idempotencyKey', request.headers['idempotency-key']);
    const { created, batch } = await submitBatch(
      queueStore(),
      workQueue(),
      {
        customer,
        queue,
        assets,
        ...(idempotencyKey !== undefined ? { idempotencyKey, bodyHash: hashBody(request.body ?? '') } : {}),
      },
      settings.submitLimits(),
    );
    return {
      status: created ? 201 : 200,
      headers: { Location: urls.batch(request.baseUrl, customer, batch.batch) },
      body: batchResource(request.baseUrl, batch),
    };
  };

export const handler = apiHandler('api-submit', {
  'POST /customers/{customer}/queue': submit('main'),
  'POST /customers/{customer}/queue/priority': submit('priority'),
});
