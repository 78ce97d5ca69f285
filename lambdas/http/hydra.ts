/**
 * JSON-LD shaping of the queue's resources (vocab:Batch, vocab:CustomerQueue, vocab:Queue,
 * vocab:Image and hydra Collections). Every link emitted here resolves to a route of the API, and
 * every collection page fits in a Lambda response (it ends at a byte budget as well as a count).
 */
import { DEFAULTS } from '../config/resources';
import { imagesWaiting, isSuperseded, queueSize, type BatchRecord, type CustomerCounters, type MemberRecord } from '../domain/model';
import type { Page, PageRequest } from '../domain/ports';
import { CONTEXT_URL, HttpError } from './problem';
import type { ApiRequest } from './api';

export const urls = {
  customerQueue: (base: string, c: number) => `${base}/customers/${c}/queue`,
  batch: (base: string, c: number, b: number) => `${base}/customers/${c}/queue/batches/${b}`,
  image: (base: string, c: number, s: number, id: string) => `${base}/customers/${c}/spaces/${s}/images/${encodeURIComponent(id)}`,
};

const omitUndefined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;

/** What the queue knows about throughput, for estimating a batch that has not started. */
export interface QueueThroughput {
  /** Members ingested per millisecond recently (from the customer's last finished batch). */
  membersPerMs: number;
  /** Members waiting on the batch's queue (its own included). */
  waiting: number;
}

/**
 * Estimated completion. Once the batch has started: from its own observed rate. Before that: from
 * the queue's recent throughput and the members waiting ahead of and in it. Absent once finished
 * or when nothing is known yet.
 */
export function estimateCompletion(batch: BatchRecord, throughput?: QueueThroughput, nowMs = Date.now()): string | undefined {
  if (batch.finished) return undefined;
  const done = batch.completed + batch.errors;
  if (batch.started && done > 0) {
    const elapsed = nowMs - Date.parse(batch.started);
    if (elapsed > 0) return new Date(nowMs + (elapsed / done) * batch.remaining).toISOString();
  }
  if (!batch.started && throughput && throughput.membersPerMs > 0) {
    return new Date(nowMs + Math.max(throughput.waiting, batch.remaining) / throughput.membersPerMs).toISOString();
  }
  return undefined;
}

/** Throughput observed on a finished batch, if it says anything. */
export function throughputOf(batch: BatchRecord | undefined): number | undefined {
  if (!batch?.started || !batch.finished) return undefined;
  const elapsed = Date.parse(batch.finished) - Date.parse(batch.started);
  return elapsed > 0 ? batch.count / elapsed : undefined;
}

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
    finished: batch.finished,
    superseded: isSuperseded(batch),
    estCompletion: estimateCompletion(batch, throughput),
    images: `${id}/images`,
    completedImages: `${id}/completedImages`,
    errorImages: `${id}/errorImages`,
    test: `${id}/test`,
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
    error: m.error,
    finished: m.finished,
    batch: urls.batch(base, m.customer, m.batch),
  });
}

export interface PageParams {
  limit: number;
  cursor?: string;
}

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
export function withByteBudget<T>(params: PageParams, render: (item: T) => unknown): PageRequest<T> {
  return { ...params, budget: { bytes: PAGE_ITEMS_BUDGET_BYTES, sizeOf: (item) => escapedJsonBytes(render(item)) + 1 } };
}

/** Reads `pageSize` (default 100, 1–500, else 400) and the opaque `page` token. */
export function pageParams(request: ApiRequest): PageParams {
  const raw = request.query['pageSize'];
  let limit: number = DEFAULTS.pageSize;
  if (raw !== undefined) {
    if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > DEFAULTS.maxPageSize) {
      throw new HttpError(400, `pageSize must be an integer from 1 to ${DEFAULTS.maxPageSize}.`);
    }
    limit = Number(raw);
  }
  const cursor = request.query['page'];
  if (cursor !== undefined && (cursor.length === 0 || cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor))) {
    throw new HttpError(400, "The 'page' token is not one this API issued for this collection.");
  }
  return cursor !== undefined ? { limit, cursor } : { limit };
}

/**
 * A hydra Collection page with a PartialCollectionView (first, next). A page may hold fewer than
 * `pageSize` items (large items end it at its byte budget); `next` continues after the last one.
 */
export function collection<T>(
  request: ApiRequest,
  path: string,
  page: Page<T>,
  params: PageParams,
  render: (item: T) => unknown,
  totalItems?: number,
  extraQuery: Record<string, string> = {},
) {
  const base = `${request.baseUrl}${path}`;
  const link = (cursor?: string) => {
    const query = new URLSearchParams({ ...extraQuery, ...(params.limit !== DEFAULTS.pageSize ? { pageSize: String(params.limit) } : {}) });
    if (cursor) query.set('page', cursor);
    const qs = query.toString();
    return qs ? `${base}?${qs}` : base;
  };
  return omitUndefined({
    '@context': CONTEXT_URL,
    '@id': link(params.cursor),
    '@type': 'Collection',
    totalItems,
    pageSize: params.limit,
    member: page.items.map(render),
    view: omitUndefined({
      '@id': link(params.cursor),
      '@type': 'PartialCollectionView',
      first: link(),
      next: page.next ? link(page.next) : undefined,
    }),
  });
}
