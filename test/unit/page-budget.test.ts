/**
 * Pages that fit a Lambda response: the escaped size of an item is measured exactly, a page stops
 * at its byte budget, and the worst page the validation limits allow (every member at its longest,
 * made of the characters that grow most when escaped) stays under Lambda's 6 MB once rendered as
 * the proxy result.
 */

import { ByteBudget } from '../../lambdas/adapters/dynamo/reads';
import type { MemberRecord } from '../../lambdas/domain/model';
import { validateMembers } from '../../lambdas/domain/validation';
import { type ApiRequest, renderResponse } from '../../lambdas/http/api';
import {
  collection,
  escapedJsonBytes,
  imageResource,
  LAMBDA_RESPONSE_LIMIT_BYTES,
  PAGE_ITEMS_BUDGET_BYTES,
  withByteBudget,
} from '../../lambdas/http/hydra';

/** What the proxy result costs: Lambda serialises it with JSON.stringify, as UTF-8. */
const resultBytes = (result: unknown) => Buffer.byteLength(JSON.stringify(result));

describe('escapedJsonBytes', () => {
  it.each([
    ['plain', { a: 'b', n: 1 }],
    ['quotes and backslashes', { s: '"\\"\\\\', t: ['"', '\\'] }],
    ['control characters', { s: '\u0000\u0001\n\t\r\u001f' }],
    ['non-ASCII and emoji', { s: 'é€𝄞 ü', k: '日本' }],
    ['lone surrogates', { s: '\ud800x\udfff' }],
    ['line separators', { s: '\u2028\u2029' }],
    ['nested', [{ a: [{ b: '"x"' }] }, null, true, 1.5]],
  ])('is the size of %s inside a JSON string', (_name, value) => {
    // The body as a JSON string inside the proxy result, minus its two quotes.
    expect(escapedJsonBytes(value)).toBe(Buffer.byteLength(JSON.stringify(JSON.stringify(value))) - 2);
  });
});

describe('ByteBudget', () => {
  const budget = (bytes: number) => new ByteBudget<number>({ bytes, sizeOf: (n) => n });

  it('admits items while they fit and refuses the first that does not', () => {
    const b = budget(10);
    expect([4, 5, 2, 1].map((n) => b.admit(n))).toEqual([true, true, false, true]);
  });

  it('always admits the first item of a page, whatever its size', () => {
    const b = budget(10);
    expect(b.admit(50)).toBe(true);
    expect(b.admit(1)).toBe(false);
  });

  it('admits everything without a budget', () => {
    const b = new ByteBudget<number>(undefined);
    expect(Array.from({ length: 1000 }, () => b.admit(1e9)).every(Boolean)).toBe(true);
  });
});

describe('the worst page the validation limits allow', () => {
  // Every field at its longest, of the characters that grow most: a control character is 6 bytes
  // in JSON (\u0001) and 7 once escaped again, a quote 2 and 4 (origins may not hold control
  // characters, but may hold quotes).
  const control = (n: number) => '\u0001'.repeat(n);
  const maximal = (i: number) => ({
    id: `${'i'.repeat(194)}${String(i).padStart(6, '0')}`,
    space: 2_147_483_647,
    origin: `https://example.org/${'"'.repeat(2048 - 'https://example.org/'.length)}`,
    mediaType: `${'a'.repeat(127)}/${'b'.repeat(127)}`,
    family: 'I',
    string1: control(1024),
    string2: control(1024),
    string3: control(1024),
    number1: -Number.MAX_SAFE_INTEGER,
    number2: -Number.MAX_SAFE_INTEGER,
    number3: -Number.MAX_SAFE_INTEGER,
    tags: Array.from({ length: 50 }, () => control(200)),
    roles: Array.from({ length: 20 }, () => control(500)),
    maxUnauthorised: Number.MAX_SAFE_INTEGER,
  });
  const assets = validateMembers(
    Array.from({ length: 500 }, (_, i) => maximal(i)),
    10_000,
  );
  const members: MemberRecord[] = assets.map((asset, index) => ({
    ...asset,
    customer: 999_999_999_999,
    batch: 999_999_999_999,
    index,
    queue: 'main',
    state: 'error',
    submitted: new Date(0).toISOString(),
    finished: new Date(0).toISOString(),
    error: control(1024),
  }));
  // A long Host (locally a client may send anything) and the longest page token pageParams accepts.
  const request = { baseUrl: `https://${'h'.repeat(4000)}.example.org/prod` } as ApiRequest;
  const params = { limit: 500, cursor: 'c'.repeat(2048) };
  const render = (m: MemberRecord) => imageResource(request.baseUrl, m, false);
  const result = (items: MemberRecord[]) =>
    renderResponse({
      status: 200,
      body: collection(request, '/customers/1/queue/batches/1/images', { items, next: 'n'.repeat(2048) }, params, render, 500),
    });

  it('passes the validation limits (so it is a page the service can really build)', () => {
    expect(assets).toHaveLength(500);
  });

  it('would not fit a Lambda response as one page of 500', () => {
    expect(resultBytes(result(members))).toBeGreaterThan(LAMBDA_RESPONSE_LIMIT_BYTES);
  });

  it('fits once cut at the byte budget, and the budget is what decides', () => {
    const { budget } = withByteBudget(params, render);
    const bytes = new ByteBudget(budget);
    const taken: MemberRecord[] = [];
    for (const m of members) {
      if (!bytes.admit(m)) break;
      taken.push(m);
    }
    expect(taken.length).toBeGreaterThan(10);
    expect(taken.length).toBeLessThan(500);
    expect(resultBytes(result(taken))).toBeLessThanOrEqual(LAMBDA_RESPONSE_LIMIT_BYTES);
    // Measured exactly: the items (with the commas between them) take at most the budget, and
    // one more would pass it.
    const used = taken.reduce((sum, m) => sum + budget!.sizeOf(m), 0);
    expect(escapedJsonBytes(taken.map(render))).toBe(used - 1 + 2);
    expect(used).toBeLessThanOrEqual(PAGE_ITEMS_BUDGET_BYTES);
    expect(used + budget!.sizeOf(members[taken.length] as MemberRecord)).toBeGreaterThan(PAGE_ITEMS_BUDGET_BYTES);
  });
});
