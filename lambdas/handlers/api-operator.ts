/**
 * Operator routes (Scale's v6 queue services):
 * - GET /queue/load: load samples over time, summed over the selected customers and queues
 *   (any key; a customer key sees only its own customer); times without a sample are absent (zero);
 * - GET /queue/status: members waiting, grouped by customer and queue, with the submission time of
 *   each group's oldest waiting member, paged by `page`/`page_size` (admin keys only).
 */
import { queueStore } from '../adapters';
import { operatorStore } from '../adapters/operator-store';
import { inParallel } from '../domain/async';
import { orderStatus, pageOf, queueGroups, queueStatus } from '../domain/operator';
import { requirePrincipal } from '../http/access';
import { apiHandler } from '../http/api';
import { loadPageUrl, parseLoadQuery, parseStatusQuery, queryValues, statusPageUrl } from '../http/operator-query';
import { HttpError } from '../http/problem';

export const handler = apiHandler('api-operator', {
  'GET /queue/load': async (request) => {
    const principal = requirePrincipal(request);
    const values = queryValues(request);
    const query = parseLoadQuery(values, principal, new Date());
    // Paged in DynamoDB: reads the selected customers' (or the all-customer) day partitions only.
    const page = await operatorStore().loadPage(query);
    const explicit = { customers: (values.customer ?? []).length > 0, pageSize: values.page_size !== undefined };
    const link = (n: number | undefined) => (n === undefined ? null : loadPageUrl(request.baseUrl, query, n, explicit));
    return {
      status: 200,
      body: { count: page.count, next: link(page.next), previous: link(page.previous), results: page.results },
    };
  },
  'GET /queue/status': async (request) => {
    const principal = requirePrincipal(request);
    if (!principal.admin) throw new HttpError(403, 'Only an admin key may read the queue status.');
    const query = parseStatusQuery(queryValues(request));
    // The order needs only the counts: order every group, then look up the oldest waiting member
    // of the page's groups only.
    const ordered = orderStatus(queueGroups(await queueStore().listCustomers()).map((group) => queueStatus(group, undefined)));
    const page = pageOf(ordered, query.page, query.pageSize);
    const results = await inParallel(page.results, 8, async (group) =>
      queueStatus(group, await operatorStore().oldestWaiting(group.customer, group.queue)),
    );
    const link = (n: number | undefined) => (n === undefined ? null : statusPageUrl(request.baseUrl, query, n));
    return { status: 200, body: { count: page.count, next: link(page.next), previous: link(page.previous), results } };
  },
});
