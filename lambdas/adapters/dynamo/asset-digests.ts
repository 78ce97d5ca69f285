/**
 * Recent-asset digests: which assets a batch holds, in a few small base-table items written with
 * its members, so `GET …/spaces/{s}/images/{id}` finds a member submitted a moment ago although
 * the asset index (GSI4) is eventually consistent on AWS and may not show it yet.
 *
 * Each batch writes up to DIGEST_SHARDS items `{pk: CUST#c#BATCH#b#ASSETS, sk: D#<shard>}`, each a
 * binary list of (8-byte hash of `space/id`, 4-byte member index) for the assets hashing to that
 * shard. A 10,000-member batch writes 8 items of ~15 KB (≈ 0.013 write units per member; a
 * pointer item per member would cost a whole unit), in the same BatchWriteItem calls as the
 * members. A reader takes the newest batches the index may not show yet — those above the newest
 * batch it does show, at most RECENT_BATCHES of them, up to the customer's latest batch id — and
 * reads one shard of each (one consistent BatchGetItem). Kept a day (TTL deletions are free);
 * older batches are long in the index.
 */
import { createHash } from 'node:crypto';
import type { MemberRecord } from '../../domain/model';
import type { MemberRef } from '../../domain/ports';
import { getItems, type Item } from './table';

export const DIGEST_SHARDS = 8;
export const DIGEST_TTL_SECONDS = 24 * 3600;
/** How many batches above the newest indexed one a reader checks (newest first). */
export const RECENT_BATCHES = 20;

const HASH_BYTES = 8;
const ENTRY_BYTES = HASH_BYTES + 4;

function assetHash(space: number, id: string): Buffer {
  return createHash('sha256').update(`${space}/${id}`, 'utf8').digest().subarray(0, HASH_BYTES);
}

const shardOf = (hash: Buffer): number => (hash[0] as number) % DIGEST_SHARDS;

export const digestKey = (customer: number, batch: number, shard: number) => ({
  pk: `CUST#${customer}#BATCH#${String(batch).padStart(12, '0')}#ASSETS`,
  sk: `D#${shard}`,
});

/** The digest items of a batch: pass every member of the batch (an item replaces the shard's earlier one). */
export function digestItems(members: readonly MemberRecord[], nowMs = Date.now()): Item[] {
  const first = members[0];
  if (!first) return [];
  const entries = new Map<number, Buffer[]>();
  for (const m of members) {
    const hash = assetHash(m.space, m.id);
    const entry = Buffer.alloc(ENTRY_BYTES);
    hash.copy(entry, 0);
    entry.writeUInt32BE(m.index, HASH_BYTES);
    const shard = shardOf(hash);
    entries.set(shard, [...(entries.get(shard) ?? []), entry]);
  }
  return [...entries].map(([shard, list]) => ({
    ...digestKey(first.customer, first.batch, shard),
    type: 'assetDigest',
    customer: first.customer,
    batch: first.batch,
    d: Buffer.concat(list),
    expiresAt: Math.floor(nowMs / 1000) + DIGEST_TTL_SECONDS,
  }));
}

/**
 * Members of `space/id` in the batches `newestIndexed + 1 … latest` (at most RECENT_BATCHES of
 * them, newest first), as the digests of those batches say: one consistent BatchGetItem.
 */
export async function recentMemberRefs(
  customer: number,
  space: number,
  id: string,
  newestIndexed: number,
  latest: number,
): Promise<MemberRef[]> {
  const hash = assetHash(space, id);
  const shard = shardOf(hash);
  const batches: number[] = [];
  for (let b = latest; b > newestIndexed && batches.length < RECENT_BATCHES; b -= 1) batches.push(b);
  if (batches.length === 0) return [];
  const found: MemberRef[] = [];
  for (const item of await getItems(
    batches.map((b) => digestKey(customer, b, shard)),
    true,
  )) {
    const list = Buffer.from(item.d as Uint8Array);
    for (let at = 0; at + ENTRY_BYTES <= list.length; at += ENTRY_BYTES) {
      if (list.subarray(at, at + HASH_BYTES).equals(hash)) {
        found.push({ customer, batch: Number(item.batch), index: list.readUInt32BE(at + HASH_BYTES) });
      }
    }
  }
  return found;
}
