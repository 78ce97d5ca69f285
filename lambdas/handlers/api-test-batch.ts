/** POST /customers/{c}/queue/batches/{b}/test → {"success": true} when the check changed the batch. */
import { queueStore } from '../adapters';
import { findBatch } from '../domain/find-batch';
import { testBatch } from '../domain/test-batch';
import { authorizedCustomer } from '../http/access';
import { apiHandler, intParam } from '../http/api';

export const handler = apiHandler('api-test-batch', {
  'POST /customers/{customer}/queue/batches/{batch}/test': async (request) => {
    const batch = await findBatch(queueStore(), authorizedCustomer(request), intParam(request, 'batch'));
    const { changed } = await testBatch(queueStore(), batch);
    return { status: 200, body: { success: changed } };
  },
});
