/**
 * A batch's asset digests: at most DIGEST_SHARDS small items whatever the batch size, holding
 * every member's (asset hash, index) exactly once.
 */
import { DIGEST_SHARDS, digestItems } from '../../lambdas/adapters/dynamo/asset-digests';
import type { MemberRecord } from '../../lambdas/domain/model';

const member = (index: number): MemberRecord =>
  ({
    customer: 7,
    batch: 42,
    index,
    space: index % 3,
    id: `asset-${index}`,
    origin: 'https://example.org/x',
    queue: 'main',
    state: 'waiting',
    submitted: '2026-12-02T00:00:00Z',
  }) as never;

it('fits a 10,000-member batch into a few small items, every member once', () => {
  const items = digestItems(Array.from({ length: 10_000 }, (_, i) => member(i)));
  expect(items.length).toBeLessThanOrEqual(DIGEST_SHARDS);
  const sizes = items.map((i) => (i.d as Buffer).length);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(10_000 * 12);
  for (const size of sizes) expect(size).toBeLessThan(30 * 1024);
  const indexes = items.flatMap((i) => {
    const d = i.d as Buffer;
    return Array.from({ length: d.length / 12 }, (_, k) => d.readUInt32BE(k * 12 + 8));
  });
  expect(new Set(indexes).size).toBe(10_000);
  for (const item of items) expect(item).toMatchObject({ pk: 'CUST#7#BATCH#000000000042#ASSETS', batch: 42, customer: 7 });
});

it('writes one item for a one-member batch', () => {
  expect(digestItems([member(0)])).toHaveLength(1);
  expect(digestItems([])).toEqual([]);
});
