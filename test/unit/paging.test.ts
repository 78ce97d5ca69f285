/**
 * The pure parts of the contract audit: DLCS page numbers next to opaque tokens (parameters and the
 * PartialCollectionView links), estCompletion from the queue's throughput, /queue/status paging
 * parameters, and the Idempotency-Key body hash and scoping.
 */

import { estimateCompletion, throughputOf } from '../../lambdas/domain/estimate';
import type { BatchRecord } from '../../lambdas/domain/model';
import { hashBody, scopedIdempotencyKey } from '../../lambdas/domain/submit';
import type { ApiRequest } from '../../lambdas/http/api';
import { toHttpError } from '../../lambdas/http/domain-errors';
import { collection, MAX_PAGE_SKIP, pageNumberOf, pageParams, withByteBudget } from '../../lambdas/http/hydra';
import { parseStatusQuery, statusPageUrl } from '../../lambdas/http/operator-query';

// ---- Prepare ------------------------------------------------------------------------------------

const request = (query: Record<string, string> = {}): ApiRequest => ({
  method: 'GET',
  resource: '/customers/{customer}/queue/batches',
  pathParameters: { customer: '1' },
  query,
  multiQuery: {},
  headers: {},
  body: undefined,
  baseUrl: 'https://api.example',
  principal: undefined,
});

const statusOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return toHttpError(error)?.statusCode ?? -1;
  }
};

const batch = (over: Partial<BatchRecord> = {}): BatchRecord => ({
  customer: 1,
  batch: 1,
  queue: 'main',
  submitted: '2026-01-01T00:00:00.000Z',
  count: 10,
  completed: 0,
  errors: 0,
  cancelled: 0,
  remaining: 10,
  waiting: 10,
  current: 10,
  ...over,
});

const NOW = Date.parse('2026-01-01T00:10:00.000Z');

// ---- Assess -------------------------------------------------------------------------------------

describe('pageParams', () => {
  it('reads a page number as DLCS clients send it, and the opaque token otherwise', () => {
    expect(pageParams(request({ page: '2', pageSize: '2' }))).toEqual({ limit: 2, skip: 2 });
    expect(pageNumberOf(pageParams(request({ page: '2', pageSize: '2' })))).toBe(2);
    expect(pageParams(request({ page: 'eyJwayI6IngifQ' }))).toEqual({ limit: 100, cursor: 'eyJwayI6IngifQ' });
    expect(withByteBudget(pageParams(request({ page: '4', pageSize: '3' })), () => ({})).skip).toBe(9);
  });

  it('refuses page 0 and pages past the deepest a number may reach', () => {
    expect(statusOf(() => pageParams(request({ page: '0' })))).toBe(400);
    expect(statusOf(() => pageParams(request({ page: String(MAX_PAGE_SKIP + 2), pageSize: '1' })))).toBe(400);
    expect(statusOf(() => pageParams(request({ page: String(MAX_PAGE_SKIP + 1), pageSize: '1' })))).toBeUndefined();
  });
});

describe('collection views', () => {
  const base = 'https://api.example/c';
  const render = (n: number) => n;

  it('numbers first/previous/next/last for a page number', () => {
    const body = collection(request(), '/c', { items: [3, 4], next: 'tok' }, { limit: 2, skip: 2 }, render, 5);
    expect(body.view).toEqual({
      '@id': `${base}?page=2&pageSize=2`,
      '@type': 'PartialCollectionView',
      first: `${base}?page=1&pageSize=2`,
      previous: `${base}?page=1&pageSize=2`,
      next: `${base}?page=3&pageSize=2`,
      last: `${base}?page=3&pageSize=2`,
    });
  });

  it('continues with a token when a numbered page was cut short by bytes (nothing skipped)', () => {
    const body = collection(request(), '/c', { items: [3], next: 'tok' }, { limit: 2, skip: 2 }, render, 5);
    expect((body.view as Record<string, unknown>).next).toBe(`${base}?page=tok&pageSize=2`);
  });

  it('keeps token links when the client pages by token', () => {
    const body = collection(request(), '/c', { items: [1], next: 'tok' }, { limit: 100, cursor: 'abc' }, render, 5);
    expect(body.view).toEqual({ '@id': `${base}?page=abc`, '@type': 'PartialCollectionView', first: base, next: `${base}?page=tok` });
  });
});

describe('estCompletion before a batch has a rate of its own', () => {
  const throughput = { membersPerMs: 0.001, waiting: 30 };

  it('estimates a waiting batch from the queue (members ahead included) and a started one with nothing done from its own remaining', () => {
    expect(estimateCompletion(batch(), throughput, NOW)).toBe('2026-01-01T00:10:30.000Z');
    expect(estimateCompletion(batch({ started: '2026-01-01T00:09:00.000Z' }), throughput, NOW)).toBe('2026-01-01T00:10:10.000Z');
  });

  it('takes the queue’s throughput from its active batches, else from its last finished one', () => {
    const active = batch({ started: '2026-01-01T00:09:50.000Z', completed: 5, remaining: 5 });
    expect(throughputOf(undefined, [active], NOW)).toBeCloseTo(0.0005);
    const finished = batch({ started: '2026-01-01T00:00:00.000Z', finished: '2026-01-01T00:00:10.000Z' });
    expect(throughputOf(finished, [batch({ started: '2026-01-01T00:09:00.000Z' })], NOW)).toBeCloseTo(0.001);
    expect(throughputOf(undefined, [], NOW)).toBeUndefined();
  });
});

describe('/queue/status paging', () => {
  it('validates page and page_size like /queue/load', () => {
    expect(parseStatusQuery({})).toEqual({ page: 1, pageSize: 100, explicitPageSize: false });
    expect(parseStatusQuery({ page: ['2'], page_size: ['5'] })).toEqual({ page: 2, pageSize: 5, explicitPageSize: true });
    for (const bad of [{ page_size: ['0'] }, { page: ['0'] }, { page_size: ['501'] }, { page: ['1', '2'] }] as Record<string, string[]>[]) {
      expect(statusOf(() => parseStatusQuery(bad))).toBe(400);
    }
    expect(statusPageUrl('https://a', parseStatusQuery({ page_size: ['5'] }), 3)).toBe('https://a/queue/status?page_size=5&page=3');
  });
});

describe('Idempotency-Key', () => {
  it('hashes the parsed body: whitespace and key order do not matter, member order does', () => {
    const a = hashBody('{"member":[{"id":"a","space":1},{"id":"b","space":1}]}');
    expect(hashBody('{ "member" : [ {"space":1, "id":"a"},\n {"id":"b","space":1.0} ] }')).toBe(a);
    expect(hashBody('{"member":[{"id":"b","space":1},{"id":"a","space":1}]}')).not.toBe(a);
  });

  it('scopes stored keys by route, leaving main-queue keys as they were', () => {
    expect(scopedIdempotencyKey('main', 'k')).toBe('k');
    expect(scopedIdempotencyKey('priority', 'k')).not.toBe('k');
  });
});
