/**
 * Read-only routes: the global queue, a customer's queue, its batches and images. Every list is
 * paged by count and by bytes (a Lambda response holds at most 6 MB), and an image is read from
 * its newest batch even when the asset index has not caught up with a submit yet.
 */

// The built document (npm run openapi) rather than its builder, which would bundle zod's full API here.
import openApiDocument from '../../openapi.json';
import { queueStore, workQueue } from '../adapters';
import type { QueueName } from '../config/resources';
import { settings } from '../config/settings';
import { NotFoundError } from '../domain/errors';
import { needsQueueThroughput, type QueueThroughput, throughputOf } from '../domain/estimate';
import { findBatch } from '../domain/find-batch';
import { pollUntil } from '../domain/long-poll';
import type { BatchRecord, MemberRecord, MemberState } from '../domain/model';
import { emptyCounters, queueSize } from '../domain/model';
import { isAssetId } from '../domain/validation';
import { authorizedCustomer, requirePrincipal } from '../http/access';
import { type ApiRequest, apiHandler, intParam, type RouteFunction } from '../http/api';
import {
  batchResource,
  callerResource,
  collection,
  customerQueueResource,
  globalQueueResource,
  imageResource,
  pageParams,
  withByteBudget,
} from '../http/hydra';
import { parameterValue } from '../http/parameter-schemas';

/** The batch of a `…/batches/{batch}` route, for a caller that may act on its customer. */
const requestedBatch = (request: ApiRequest) => findBatch(queueStore(), authorizedCustomer(request), intParam(request, 'batch'));

/**
 * The customer's recent throughput, for the estimate of a batch with no rate of its own yet
 * (waiting behind others, or picked up with nothing done): the rates of a few active batches, or
 * else of the last finished one, and the members waiting per queue. Undefined when the queue has
 * never ingested anything. Costs the customer's counters, one page of `active` and one of `recent`.
 */
async function queueThroughput(customer: number): Promise<((queue: QueueName) => QueueThroughput) | undefined> {
  const [counters, active, recent] = await Promise.all([
    queueStore().getCustomer(customer),
    queueStore().listActiveBatches(customer, { limit: 10 }),
    queueStore().listRecentBatches(customer, { limit: 1 }),
  ]);
  const membersPerMs = throughputOf(recent.items[0], active.items);
  if (!membersPerMs || !counters) return undefined;
  return (queue) => ({ membersPerMs, waiting: counters.waiting[queue] });
}

const batchImages =
  (state: MemberState | 'any', path: string, total: (b: { count: number; completed: number; errors: number }) => number): RouteFunction =>
  async (request) => {
    const batch = await requestedBatch(request);
    const params = pageParams(request);
    const render = (m: MemberRecord) => imageResource(request.baseUrl, m, false);
    const page = await queueStore().listMembers(batch.customer, batch.batch, state, withByteBudget(params, render));
    const self = `/customers/${batch.customer}/queue/batches/${batch.batch}/${path}`;
    return { status: 200, body: collection(request, self, page, params, render, total(batch)) };
  };

const batchCollection =
  (list: 'listBatches' | 'listActiveBatches' | 'listRecentBatches', path: string): RouteFunction =>
  async (request) => {
    const customer = authorizedCustomer(request);
    const params = pageParams(request);
    const render = (b: BatchRecord) => batchResource(request.baseUrl, b);
    const [page, counters] = await Promise.all([
      queueStore()[list](customer, withByteBudget(params, render)),
      list === 'listBatches' ? queueStore().getCustomer(customer) : Promise.resolve(undefined),
    ]);
    const total = list === 'listBatches' ? (counters?.batchCount ?? 0) : undefined;
    // Batches with no rate of their own are estimated from the queue's throughput, read once a page.
    const throughput = page.items.some((b) => needsQueueThroughput(b)) ? await queueThroughput(customer) : undefined;
    const shown = (b: BatchRecord) => batchResource(request.baseUrl, b, throughput?.(b.queue));
    return { status: 200, body: collection(request, `/customers/${customer}/queue/${path}`, page, params, shown, total) };
  };

/**
 * The work queues' depths, reused for `QUEUE_COUNTS_CACHE_SECONDS` within a container: `GET /queue`
 * is public, and without this every anonymous request would be two SQS calls.
 */
let depths: { at: number; value: Promise<{ incoming: number; priority: number }> } | undefined;

function queueDepths(): Promise<{ incoming: number; priority: number }> {
  const now = Date.now();
  if (!depths || now - depths.at >= settings.queueCountsCacheSeconds() * 1000) {
    const value = Promise.all([workQueue().depth('main'), workQueue().depth('priority')]).then(([incoming, priority]) => ({
      incoming,
      priority,
    }));
    depths = { at: now, value };
    value.catch(() => {
      if (depths?.value === value) depths = undefined;
    });
  }
  return depths.value;
}

export const handler = apiHandler('api-read', {
  'GET /openapi.json': async (request) => ({ status: 200, body: { ...openApiDocument, servers: [{ url: request.baseUrl }] } }),
  'GET /key': async (request) => ({ status: 200, body: callerResource(request.baseUrl, requirePrincipal(request)) }),
  'GET /queue': async (request) => {
    const { incoming, priority } = await queueDepths();
    const maxAge = settings.queueCountsCacheSeconds();
    return {
      status: 200,
      body: globalQueueResource(request.baseUrl, { incoming, priority }),
      headers: { 'Cache-Control': `public, max-age=${maxAge}` },
    };
  },
  'GET /customers/{customer}/queue': async (request) => {
    const customer = authorizedCustomer(request);
    const counters = (await queueStore().getCustomer(customer)) ?? emptyCounters(customer);
    return { status: 200, body: customerQueueResource(request.baseUrl, counters) };
  },
  'GET /customers/{customer}/queue/batches': batchCollection('listBatches', 'batches'),
  'GET /customers/{customer}/queue/active': batchCollection('listActiveBatches', 'active'),
  'GET /customers/{customer}/queue/recent': batchCollection('listRecentBatches', 'recent'),
  'GET /customers/{customer}/queue/images': async (request) => {
    const customer = authorizedCustomer(request);
    const order = parameterValue('order', request.query.order);
    const params = pageParams(request);
    const render = (m: MemberRecord) => imageResource(request.baseUrl, m, false);
    const [page, counters] = await Promise.all([
      queueStore().listQueuedMembers(customer, order, withByteBudget(params, render)),
      queueStore().getCustomer(customer),
    ]);
    const total = counters ? queueSize(counters) : 0;
    return {
      status: 200,
      body: collection(request, `/customers/${customer}/queue/images`, page, params, render, total, order === 'desc' ? { order } : {}),
    };
  },
  'GET /customers/{customer}/queue/batches/{batch}': async (request) => {
    // `?wait=N`: seconds to long-poll the batch for its finish (absent: answer at once).
    const waitSeconds = parameterValue('wait', request.query.wait);
    const found = await requestedBatch(request);
    const batch = waitSeconds
      ? await pollUntil(
          async () => (await queueStore().getBatch(found.customer, found.batch, true)) ?? found,
          (b) => b.finished !== undefined,
          waitSeconds * 1000,
        )
      : found;
    const throughput = needsQueueThroughput(batch) ? (await queueThroughput(batch.customer))?.(batch.queue) : undefined;
    return { status: 200, body: batchResource(request.baseUrl, batch, throughput) };
  },
  'GET /customers/{customer}/queue/batches/{batch}/images': batchImages('any', 'images', (b) => b.count),
  'GET /customers/{customer}/queue/batches/{batch}/completedImages': batchImages('completed', 'completedImages', (b) => b.completed),
  'GET /customers/{customer}/queue/batches/{batch}/errorImages': batchImages('error', 'errorImages', (b) => b.errors),
  'GET /customers/{customer}/spaces/{space}/images/{image}': async (request) => {
    const customer = authorizedCustomer(request);
    const space = intParam(request, 'space');
    const id = request.pathParameters.image ?? '';
    if (!isAssetId(id)) throw new NotFoundError(`Customer ${customer} has no image '${id.slice(0, 200)}' in space ${space}.`);
    // Not only the asset index: it may not show a batch submitted a moment ago yet.
    const member = await queueStore().currentMember(customer, space, id);
    if (!member) throw new NotFoundError(`Customer ${customer} has no image '${id}' in space ${space}.`);
    return { status: 200, body: imageResource(request.baseUrl, member) };
  },
});
