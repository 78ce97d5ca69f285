/**
 * Superseded batches. A member stops being current when its asset is submitted again in a later
 * batch; a batch is superseded when none of its members is current. Each member is marked at most
 * once (a conditional write), and its batch's `current` counter drops in the same transaction.
 *
 * The check runs for every submitted batch (tasks queue, a few seconds after the submit so the
 * asset index shows every batch written meanwhile; SUPERSEDE_TASK_DELAY_SECONDS) and on demand
 * (`POST …/test`). Whichever run sees all of an asset's members marks all but the newest, so the
 * runs converge whatever order they happen in: of two batches sharing an asset, the task that runs
 * second sees both.
 */
import { inParallel } from './async';
import type { MemberRecord } from './model';
import type { SupersedeStore } from './ports';

export interface AssetRef {
  space: number;
  id: string;
}

/**
 * Marks every member of these assets older than the asset's newest member as superseded.
 * `knownBatch` is a batch known to hold each asset (the index may not show it yet).
 */
export async function supersedeOlderMembers(
  store: SupersedeStore,
  customer: number,
  assets: readonly AssetRef[],
  knownBatch: number,
): Promise<number> {
  const changed = await inParallel(assets, 8, async (asset) => {
    const refs = await store.memberRefsOfAsset(customer, asset.space, asset.id);
    const newest = Math.max(knownBatch, ...refs.map((r) => r.batch));
    const older = refs.filter((r) => r.batch < newest);
    return older.length > 0 ? store.supersede(older, newest) : 0;
  });
  return changed.reduce((a, b) => a + b, 0);
}

export function assetsOf(members: readonly MemberRecord[]): AssetRef[] {
  const unique = new Map(members.map((m) => [`${m.space}/${m.id}`, { space: m.space, id: m.id }]));
  return [...unique.values()];
}

/** A supersede task from the tasks queue: checks the assets of members [from, to) of a batch. */
export async function runSupersedeTask(
  store: SupersedeStore,
  task: { customer: number; batch: number; from: number; to: number },
): Promise<number> {
  const refs = Array.from({ length: Math.max(0, task.to - task.from) }, (_, i) => ({
    customer: task.customer,
    batch: task.batch,
    index: task.from + i,
  }));
  const members = await store.getMembers(refs);
  return supersedeOlderMembers(store, task.customer, assetsOf(members), task.batch);
}
