/**
 * Splits a submission into the POSTs that carry it, each with an Idempotency-Key derived from the
 * file and the chunk's index, so that running the same submit again after an interruption gets the
 * batches already created back (the server answers 200 with them) instead of duplicating them.
 */
import { createHash } from 'node:crypto';
import { DEFAULTS } from '../../lambdas/config/resources';
import { CliError } from './errors';
import type { Member } from './input';

/** The server's most members per POST (MAX_BATCH_SIZE) and largest body (MAX_BODY_BYTES), as deployed by default. */
export const MAX_BATCH_SIZE: number = DEFAULTS.maxBatchSize;
export const MAX_BODY_BYTES: number = DEFAULTS.maxBodyBytes;

/** What the server allows in an Idempotency-Key (lambdas/handlers/api-submit.ts). */
export const IDEMPOTENCY_KEY_FORM = /^[A-Za-z0-9._~:-]{1,128}$/;

export interface Chunk {
  index: number;
  members: Member[];
  idempotencyKey: string;
}

export interface ChunkOptions {
  batchSize: number;
  queue: 'main' | 'priority';
  /** The space given for members the file has none for: it shapes the bodies, so it is part of the key. */
  space: number;
  maxBodyBytes?: number;
}

/** The body bytes of a collection around its members: `{"@type":"Collection","member":[…]}`. */
const ENVELOPE_BYTES = Buffer.byteLength(JSON.stringify({ '@type': 'Collection', member: [] }));

/**
 * Consecutive runs of at most `batchSize` members whose body stays within the server's limit.
 * Deterministic, so the same file and options always give the same chunks (and keys).
 */
export function chunkMembers(members: readonly Member[], batchSize: number, maxBodyBytes = MAX_BODY_BYTES): Member[][] {
  const chunks: Member[][] = [];
  let current: Member[] = [];
  let bytes = ENVELOPE_BYTES;
  members.forEach((member, i) => {
    const size = Buffer.byteLength(JSON.stringify(member)) + 1;
    if (ENVELOPE_BYTES + size > maxBodyBytes)
      throw new CliError(`Image ${i + 1} alone is larger than the server's ${maxBodyBytes}-byte body limit.`);
    if (current.length === batchSize || bytes + size > maxBodyBytes) {
      chunks.push(current);
      current = [];
      bytes = ENVELOPE_BYTES;
    }
    current.push(member);
    bytes += size;
  });
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * The key of chunk `index`: a SHA-256 of the file's content and of the options that shape the
 * bodies (batch size, space, queue), then the index. 72 characters, within the server's 128.
 */
export function idempotencyKey(content: string, options: ChunkOptions, index: number): string {
  const shape = JSON.stringify({ batchSize: options.batchSize, space: options.space, queue: options.queue });
  const digest = createHash('sha256').update(content).update('\0').update(shape).digest('hex');
  return `iq-${digest}-${index}`;
}

export function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new CliError(`--batch-size must be an integer from 1 to ${MAX_BATCH_SIZE} (the server's most members per POST).`);
  }
}

export function planChunks(content: string, members: readonly Member[], options: ChunkOptions): Chunk[] {
  checkBatchSize(options.batchSize);
  return chunkMembers(members, options.batchSize, options.maxBodyBytes).map((chunk, index) => ({
    index,
    members: chunk,
    idempotencyKey: idempotencyKey(content, options, index),
  }));
}
