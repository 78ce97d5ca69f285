/**
 * Read-only routes: the global queue, a customer's queue, its batches and images. Every list is
 * paged by count and by bytes (a Lambda response holds at most 6 MB), and an image is read from
 * its newest batch even when the asset index has not caught up with a submit yet.
 */
import { queueStore, workQueue } from '../adapters';
import { settings } from '../config/settings';
import type { BatchRecord, MemberRecord, MemberState } from '../domain/model';
import { authorizedCustomer } from '../http/access';
import { apiHandler, intParam, type ApiRequest, type RouteFunction } from '../http/api';
import {
  batchResource,
  collection,
  customerQueueResource,
  globalQueueResource,
  imageResource,
  pageParams,
  throughputOf,
  withByteBudget,
} from '../http/hydra';
import { HttpError } from '../http/problem';
import { emptyCounters, queueSize } from '../domain/model';
import { isAssetId } from '../domain/validation';

const C = '/customers/{customer}';
const B = `${C}/queue/batches/{batch}`;

async function findBatch(request: ApiRequest) {
  const customer = authorizedCustomer(request);
  const batchId = intParam(request, 'batch');
  // Consistent: the Location of a batch just created must resolve at once.
  const batch = await queueStore().getBatch(customer, batchId, true);
  if (!batch) throw new HttpError(404, `Customer ${customer} has no batch ${batchId}.`);
  return batch;
}

const batchImages =
  (state: MemberState | 'any', path: string, total: (b: { count: number; completed: number; errors: number }) => number): RouteFunction =>
  async (request) => {
    const batch = await findBatch(request);
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
    return { status: 200, body: collection(request, `/customers/${customer}/queue/${path}`, page, params, render, total) };
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

export const handler = apiHandler({
  'GET /queue': async (request) => {
    const { incoming, priority } = await queueDepths();
    const maxAge = settings.queueCountsCacheSeconds();
    return {
      status: 200,
      body: globalQueueResource(request.baseUrl, { incoming, priority }),
      headers: { 'Cache-Control': `public, max-age=${maxAge}` },
    };
  },
  [`GET ${C}/queue`]: async (request) => {
    const customer = authorizedCustomer(request);
    const counters = (await queueStore().getCustomer(customer)) ?? emptyCounters(customer);
    return { status: 200, body: customerQueueResource(request.baseUrl, counters) };
  },
  [`GET ${C}/queue/batches`]: batchCollection('listBatches', 'batches'),
  [`GET ${C}/queue/active`]: batchCollection('listActiveBatches', 'active'),
  [`GET ${C}/queue/recent`]: batchCollection('listRecentBatches', 'recent'),
  [`GET ${C}/queue/images`]: async (request) => {
    const customer = authorizedCustomer(request);
    const order = request.query['order'] ?? 'asc';
    if (order !== 'asc' && order !== 'desc') throw new HttpError(400, "order must be 'asc' (top of the queue) or 'desc' (bottom).");
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
  [`GET ${B}`]: async (request) => {
    const batch = await findBatch(request);
    if (batch.started || batch.finished) return { status: 200, body: batchResource(request.baseUrl, batch) };
    // Not started yet: estimate from the customer's recent throughput and the queue ahead of it.
    const [counters, recent] = await Promise.all([
      queueStore().getCustomer(batch.customer),
      queueStore().listRecentBatches(batch.customer, { limit: 1 }),
    ]);
    const membersPerMs = throughputOf(recent.items[0]);
    const throughput = membersPerMs && counters ? { membersPerMs, waiting: counters.waiting[batch.queue] } : undefined;
    return { status: 200, body: batchResource(request.baseUrl, batch, throughput) };
  },
  [`GET ${B}/images`]: batchImages('any', 'images', (b) => b.count),
  [`GET ${B}/completedImages`]: batchImages('completed', 'completedImages', (b) => b.completed),
  [`GET ${B}/errorImages`]: batchImages('error', 'errorImages', (b) => b.errors),
  [`GET ${C}/spaces/{space}/images/{image}`]: async (request) => {
    const customer = authorizedCustomer(request);
    const space = intParam(request, 'space');
    const id = request.pathParameters['image'] ?? '';
    if (!isAssetId(id)) throw new HttpError(404, `Customer ${customer} has no image '${id.slice(0, 200)}' in space ${space}.`);
    // Not only the asset index: it may not show a batch submitted a moment ago yet.
    const member = await queueStore().currentMember(customer, space, id);
    if (!member) throw new HttpError(404, `Customer ${customer} has no image '${id}' in space ${space}.`);
    return { status: 200, body: imageResource(request.baseUrl, member) };
  },
});

