/** POST /customers/{c}/queue/batches/{b}/test → {"success": true} when the check changed the batch. */
import { queueStore } from '../adapters';
import { testBatch } from '../domain/test-batch';
import { authorizedCustomer } from '../http/access';
import { apiHandler, intParam } from '../http/api';
import { HttpError } from '../http/problem';

export const handler = apiHandler({
  'POST /customers/{customer}/queue/batches/{batch}/test': async (request) => {
    const customer = authorizedCustomer(request);
    const batchId = intParam(request, 'batch');
    const batch = await queueStore().getBatch(customer, batchId, true);
    if (!batch) throw new HttpError(404, `Customer ${customer} has no batch ${batchId}.`);
    const { changed } = await testBatch(queueStore(), batch);
    return { status: 200, body: { success: changed } };
  },
});
