/**
 * Supersession writes: a member is marked no longer current at most once (a conditional write),
 * and its batch's `current` counter drops on one of the batch's shards in the same transaction.
 */
import { TABLE } from '../../config/resources';
import { batchRef } from '../../domain/accounting';
import { chunk } from '../../domain/async';
import type { MemberRecord } from '../../domain/model';
import type { MemberRef, SupersedeStore } from '../../domain/ports';
import { addToBatchShard } from './counters';
import { batchIdFromKey, keys, memberIndexFromKey } from './keys';
import { queryAll, tableName } from './table';
import { runTransaction, type TransactItems } from './transactions';
import { getMembers } from './transitions';

export async function memberRefsOfAsset(customer: number, space: number, id: string): Promise<MemberRef[]> {
  const { gsi4pk } = keys.memberAsset(customer, space, id, 0);
  const items = await queryAll({
    IndexName: TABLE.indexes.gsi4.name,
    KeyConditionExpression: 'gsi4pk = :p',
    ExpressionAttributeValues: { ':p': gsi4pk },
  });
  return items.map((i) => ({ customer, batch: batchIdFromKey(String(i.pk)), index: memberIndexFromKey(String(i.sk)) }));
}

function supersedeActions(members: readonly MemberRecord[], by: number): TransactItems {
  const { customer, batch } = members[0] as MemberRecord;
  return [
    ...members.map((m) => ({
      Update: {
        TableName: tableName(),
        Key: keys.member(m.customer, m.batch, m.index),
        UpdateExpression: 'SET supersededBy = :by',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(supersededBy)',
        ExpressionAttributeValues: { ':by': by },
      },
    })),
    addToBatchShard(customer, batch, { current: -members.length })!,
  ];
}

/** Marks members as no longer current (exactly once each); returns how many changed. */
export async function supersede(refs: readonly MemberRef[], by: number): Promise<number> {
  if (refs.length === 0) return 0;
  const members = (await getMembers(refs)).filter((m) => m.supersededBy === undefined);
  const byBatch = new Map<string, MemberRecord[]>();
  for (const m of members) byBatch.set(batchRef(m.customer, m.batch), [...(byBatch.get(batchRef(m.customer, m.batch)) ?? []), m]);
  let changed = 0;
  for (const group of byBatch.values()) {
    for (const part of chunk(group, 98)) {
      const outcome = await runTransaction(() => supersedeActions(part, by));
      if (outcome.ok) {
        changed += part.length;
        continue;
      }
      // One member was marked meanwhile: do them one at a time; the condition skips the marked.
      for (const m of part) if ((await runTransaction(() => supersedeActions([m], by))).ok) changed += 1;
    }
  }
  return changed;
}

export const dynamoSupersession = { getMembers, memberRefsOfAsset, supersede } satisfies SupersedeStore;
