/**
 * DELETE /customers/{c}/queue/batches/{b} (cancel) and POST …/batches/{b}/retry: what a client
 * does to a batch it submitted, beyond reading it. Both need the `manage` privilege.
 */
import { queueStore, workQueue } from '../adapters';
import { API_TIMEOUT_SECONDS } from '../config/resources';
import { settings } from '../config/settings';
import { cancelBatch } from '../domain/cancel';
import { retryBatch } from '../domain/retry';
import { authorizedCustomer } from '../http/access';
import { apiHandler, intParam } from '../http/api';
import { batchResource, urls } from '../http/hydra';

/**
 * How long a cancel moves waiting members itself before it answers: well inside API Gateway's
 * limit; the processors cancel the rest as their messages arrive.
 */
const CANCEL_BUDGET_MS = (API_TIMEOUT_SECONDS - 9) * 1000;

export const handler = apiHandler('api-batch-actions', {
  'DELETE /customers/{customer}/queue/batches/{batch}': async (request) => {
    const customer = authorizedCustomer(request);
    const batchId = intParam(request, 'batch');
    const batch = await cancelBatch(queueStore(), customer, batchId, Date.now() + CANCEL_BUDGET_MS);
    return { status: 200, body: batchResource(request.baseUrl, batch) };
  },
  'POST /customers/{customer}/queue/batches/{batch}/retry': async (request) => {
    const customer = authorizedCustomer(request);
    const batchId = intParam(request, 'batch');
    const { batch } = await retryBatch(queueStore(), workQueue(), { customer, batch: batchId }, settings.submitLimits());
    return {
      status: 201,
      headers: { Location: urls.batch(request.baseUrl, customer, batch.batch) },
      body: batchResource(request.baseUrl, batch),
    };
  },
});
