/** The CLI's batching of a submission: chunk sizes and the Idempotency-Keys that make re-runs resume. */

import { type ChunkOptions, chunkMembers, IDEMPOTENCY_KEY_FORM, MAX_BATCH_SIZE, planChunks } from '../../cli/src/chunks';
import { DEFAULTS } from '../../lambdas/config/resources';

const members = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `img-${i}`, space: 1, origin: `https://x.org/${i}.jpg` }));
const options: ChunkOptions = { batchSize: 100, queue: 'main', space: 1 };

describe('chunkMembers', () => {
  test('splits into runs of at most the batch size, in order', () => {
    const chunks = chunkMembers(members(250), 100);

    expect(chunks.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(chunks.flat()).toEqual(members(250));
  });

  test("also ends a chunk before its body would pass the server's byte limit", () => {
    const chunks = chunkMembers(members(100), 100, 2_000);

    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks)
      expect(Buffer.byteLength(JSON.stringify({ '@type': 'Collection', member: chunk }))).toBeLessThanOrEqual(2_000);
  });

  test('a member larger than the limit on its own is refused', () => {
    expect(() => chunkMembers([{ id: 'a', space: 1, origin: `https://x.org/${'a'.repeat(500)}` }], 10, 200)).toThrow(/alone is larger/);
  });
});

describe('planChunks', () => {
  test('the default batch size is the server maximum', () => {
    expect(MAX_BATCH_SIZE).toBe(DEFAULTS.maxBatchSize);
  });

  test('keys are stable for the same file and options, distinct per chunk, and in the form the server accepts', () => {
    const content = 'file content';

    const first = planChunks(content, members(300), options);
    const again = planChunks(content, members(300), options);

    expect(first.map((c) => c.idempotencyKey)).toEqual(again.map((c) => c.idempotencyKey));
    expect(new Set(first.map((c) => c.idempotencyKey)).size).toBe(3);
    for (const chunk of first) {
      expect(chunk.idempotencyKey).toMatch(IDEMPOTENCY_KEY_FORM);
      expect(chunk.idempotencyKey).toMatch(new RegExp(`-${chunk.index}$`));
    }
  });

  test('another file, batch size, space or queue gives other keys', () => {
    const key = (content: string, changed: Partial<ChunkOptions>) =>
      planChunks(content, members(1), { ...options, ...changed })[0]?.idempotencyKey;
    const base = key('a', {});

    expect(new Set([base, key('b', {}), key('a', { batchSize: 50 }), key('a', { space: 2 }), key('a', { queue: 'priority' })]).size).toBe(
      5,
    );
  });

  test('a batch size outside 1 to the server maximum is a usage error', () => {
    expect(() => planChunks('a', members(1), { ...options, batchSize: 0 })).toThrow(/--batch-size/);
    expect(() => planChunks('a', members(1), { ...options, batchSize: MAX_BATCH_SIZE + 1 })).toThrow(/--batch-size/);
  });
});
