/**
 * JSON-LD shaping of the queue's resources (vocab:Batch, vocab:CustomerQueue, vocab:Queue,
 * vocab:Image and hydra Collections). Every link emitted here resolves to a route of the API, and
 * every collection page fits in a Lambda response (it ends at a byte budget as well as a count).
 */
import { DEFAULTS } from '../config/resources';
import { PRIVILEGES } from '../config/routes';
import type { Principal } from '../domain/auth';
import { BadPageTokenError } from '../domain/errors';
import { estimateCompletion, type QueueThroughput } from '../domain/estimate';
import { type BatchRecord, type CustomerCounters, imagesWaiting, isSuperseded, type MemberRecord, queueSize } from '../domain/model';
import type { Page, PageRequest } from '../domain/ports';
import type { ApiRequest } from './api';
import { checkedValue, parameterValue } from './parameter-schemas';
import { CONTEXT_URL, HttpError } from './problem';

export const urls = {
  customerQueue: (base: string, c: number) => `${base}/customers/${c}/queue`,
  batch: (base: string, c: number, b: number) => `${base}/customers/${c}/queue/batches/${b}`,
  image: (base: string, c: number, s: number, id: string) => `${base}/customers/${c}/spaces/${s}/images/${encodeURIComponent(id)}`,
};

const omitUndefined = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

export function batchResource(base: string, batch: BatchRecord, throughput?: QueueThroughput) {
  const id = urls.batch(base, batch.customer, batch.batch);
  return omitUndefined({
    '@context': CONTEXT_URL,
    '@id': id,
    '@type': 'vocab:Batch',
    id: batch.batch,
    submitted: batch.submitted,
    count: batch.count,
    completed: batch.completed,
    errors: batch.errors,
    cancelled: batch.cancelled ?? 0,
    finished: batch.finished,
    cancelledAt: batch.cancelledAt,
    superseded: isSuperseded(batch),
    estCompletion: estimateCompletion(batch, throughput),
    images: `${id}/images`,
    completedImages: `${id}/completedImages`,
    errorImages: `${id}/errorImages`,
    test: `${id}/test`,
    retryOf: batch.retryOf !== undefined ? urls.batch(base, batch.customer, batch.retryOf) : undefined,
    retries: batch.retries?.map((b) => urls.batch(base, batch.customer, b)),
  });
}

export function customerQueueResource(base: string, counters: CustomerCounters) {
  const id = urls.customerQueue(base, counters.customer);
  return {
    '@context': CONTEXT_URL,
    '@id': id,
    '@type': 'vocab:CustomerQueue',
    size: queueSize(counters),
    batchesWaiting: counters.batchesWaiting,
    imagesWaiting: imagesWaiting(counters),
    batches: `${id}/batches`,
    images: `${id}/images`,
    active: `${id}/active`,
    recent: `${id}/recent`,
    priority: `${id}/priority`,
  };
}

/** `GET /key`: the key making the request, so a client with only its key can find its customer. */
export function callerResource(base: string, principal: Principal) {
  return omitUndefined({
    '@context': CONTEXT_URL,
    '@id': `${base}/key`,
    '@type': 'vocab:Caller',
    key: principal.key,
    admin: principal.admin,
    customer: principal.customer,
    privileges: [...(principal.privileges ?? PRIVILEGES)],
    // The key's own resource (admin keys have none in the API).
    keyResource:
      principal.customer !== undefined ? `${base}/customers/${principal.customer}/keys/${encodeURIComponent(principal.key)}` : undefined,
    queue: principal.customer !== undefined ? urls.customerQueue(base, principal.customer) : undefined,
  });
}

export function globalQueueResource(base: string, depth: { incoming: number; priority: number }) {
  return {
    '@context': CONTEXT_URL,
    '@id': `${base}/queue`,
    '@type': 'vocab:Queue',
    incoming: depth.incoming,
    success: 0,
    failed: 0,
    priority: depth.priority,
  };
}

export function imageResource(base: string, m: MemberRecord, withContext = true) {
  return omitUndefined({
    ...(withContext ? { '@context': CONTEXT_URL } : {}),
    '@id': urls.image(base, m.customer, m.space, m.id),
    '@type': 'vocab:Image',
    id: m.id,
    space: m.space,
    origin: m.origin,
    mediaType: m.mediaType,
    family: m.family ?? 'I',
    string1: m.string1,
    string2: m.string2,
    string3: m.string3,
    number1: m.number1,
    number2: m.number2,
    number3: m.number3,
    tags: m.tags,
    roles: m.roles,
    maxUnauthorised: m.maxUnauthorised,
    width: m.width,
    height: m.height,
    contentLength: m.contentLength,
    ingesting: m.state === 'waiting' || m.state === 'running',
    state: m.state,
    // While a member waits to be tried again, the error of its last attempt.
    error: m.error ?? (m.state === 'waiting' || m.state === 'running' ? m.lastError : undefined),
    finished: m.finished,
    batch: urls.batch(base, m.customer, m.batch),
  });
}

/**
 * The most items a page number may pass over: reaching page n reads the (n-1)·pageSize matching
 * items before it (keys only where the listing allows), so deep pages are capped; a client goes
 * further by following `next` links, whose tokens resume where the last page ended. As many as the
 * largest batch by default, so every member of a batch can be reached by page number.
 */
export const MAX_PAGE_SKIP = 10_000;

/**
 * Lambda's limit on a synchronous response: the whole proxy result as JSON (status, headers and
 * the body as a JSON string, so every `"` and `\` of the body takes two bytes). Above it the
 * caller gets API Gateway's 502.
 */
export const LAMBDA_RESPONSE_LIMIT_BYTES = 6_291_556;

/**
 * Bytes a page's items may take inside the proxy result (measured escaped, as they travel). The
 * rest of a page is small and bounded: the collection's fields and four links (base URL, path,
 * a `page` token of at most 2,048 characters: a few KB even with a long Host), the status and the
 * Content-Type header. 5 MiB leaves over 1 MB for it.
 */
export const PAGE_ITEMS_BUDGET_BYTES = 5 * 1024 * 1024;

/**
 * Bytes `value` takes once serialised as JSON and then embedded in the proxy result as a JSON
 * string: its UTF-8 length plus one for each `"` and `\` (escaped again). Nothing else is escaped
 * the second time: JSON.stringify leaves no control character or lone surrogate unescaped.
 */
export function escapedJsonBytes(value: unknown): number {
  const json = JSON.stringify(value) ?? '';
  let bytes = Buffer.byteLength(json);
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) bytes += 1;
  }
  return bytes;
}

/**
 * A page request whose items are measured as `render` will emit them (plus the comma between
 * two), so the reader stops before a page would pass PAGE_ITEMS_BUDGET_BYTES.
 */
export function withByteBudget<T>(params: PageRequest, render: (item: T) => unknown): PageRequest<T> {
  return { ...params, budget: { bytes: PAGE_ITEMS_BUDGET_BYTES, sizeOf: (item) => escapedJsonBytes(render(item)) + 1 } };
}

/** The 1-based page number a request asked for (`?page=n` passes over (n-1)·limit items); undefined when it pages by token. */
export function pageNumberOf(params: PageRequest): number | undefined {
  return params.skip === undefined ? undefined : params.skip / params.limit + 1;
}

/**
 * Reads `pageSize` (by its rule in parameter-schemas.ts) and `page`: either a 1-based page number as DLCS
 * clients send it (links then carry page numbers too), or the opaque token of a `next` link (never
 * all digits: it is base64url JSON).
 */
export function pageParams(request: ApiRequest): PageRequest {
  const limit = parameterValue('pageSize', request.query.pageSize);
  const page = request.query.page;
  if (page !== undefined && /^\d+$/.test(page)) {
    const pageNumber = Number(page);
    if (pageNumber < 1 || !Number.isSafeInteger(pageNumber)) throw new HttpError(400, 'page numbers start at 1.');
    if ((pageNumber - 1) * limit > MAX_PAGE_SKIP) {
      throw new HttpError(
        400,
        `page ${pageNumber} starts past item ${MAX_PAGE_SKIP}, ` +
          'the deepest a page number reaches (each page number re-reads the items before it); ' +
          "follow the collection's next links instead.",
      );
    }
    return { limit, skip: (pageNumber - 1) * limit };
  }
  if (page !== undefined && checkedValue('page', page) === undefined) throw new BadPageTokenError();
  return page !== undefined ? { limit, cursor: page } : { limit };
}

/**
 * A hydra Collection page with a PartialCollectionView. With a token (or no `page`): `first` and
 * `next` (a token). With a page number, as DLCS emits them: `first`, `previous`, `next` and, when
 * `totalItems` is known, `last`, all page numbers. A page may hold fewer than `pageSize` items only
 * when large items end it at its byte budget; its `next` is then a token, so nothing is skipped.
 */
export function collection<T>(
  request: ApiRequest,
  path: string,
  page: Page<T>,
  params: PageRequest,
  render: (item: T) => unknown,
  totalItems?: number,
  extraQuery: Record<string, string> = {},
) {
  const base = `${request.baseUrl}${path}`;
  const link = (pageValue?: string) => {
    const query = new URLSearchParams({ ...extraQuery });
    if (pageValue) query.set('page', pageValue);
    if (params.limit !== DEFAULTS.pageSize || (pageValue !== undefined && params.skip !== undefined)) {
      query.set('pageSize', String(params.limit));
    }
    const qs = query.toString();
    return qs ? `${base}?${qs}` : base;
  };
  const n = pageNumberOf(params);
  let view: Record<string, string | undefined>;
  if (n === undefined) {
    view = { '@id': link(params.cursor), first: link(), next: page.next ? link(page.next) : undefined };
  } else {
    const numbered = (k: number) => link(String(k));
    const last = totalItems !== undefined ? Math.max(1, Math.ceil(totalItems / params.limit)) : undefined;
    view = {
      '@id': numbered(n),
      first: numbered(1),
      previous: n > 1 ? numbered(last !== undefined ? Math.min(n - 1, last) : n - 1) : undefined,
      next: page.next ? (page.items.length === params.limit ? numbered(n + 1) : link(page.next)) : undefined,
      last: last !== undefined ? numbered(last) : undefined,
    };
  }
  return omitUndefined({
    '@context': CONTEXT_URL,
    '@id': view['@id'],
    '@type': 'Collection',
    totalItems,
    pageSize: params.limit,
    member: page.items.map(render),
    view: omitUndefined({ '@id': view['@id'], '@type': 'PartialCollectionView', ...view }),
  });
}
