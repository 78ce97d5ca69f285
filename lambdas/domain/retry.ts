/**
 * `POST …/batches/{b}/retry`: a new batch, on the same queue, of the batch's error members, linked
 * both ways (`retryOf` on the new batch, `retries` on the old, written together). It is an ordinary
 * submit otherwise: admission, supersession (the retried members supersede their failed selves)
 * and processing are the same.
 */

import { chunk } from './async';
import { BatchNotFoundError, ConflictError } from './errors';
import type { AssetInput, MemberRecord } from './model';
import type { QueueReader, SubmitStore, WorkQueue } from './ports';
import { type SubmitLimits, type SubmitResult, submitBatch } from './submit';

/** Members read per BatchGetItem round while collecting the error members. */
const CHUNK = 100;

/** The asset as it was submitted: what processing recorded about the member is left behind. */
export function assetOf(member: MemberRecord): AssetInput {
  const { id, space, origin, mediaType, family, string1, string2, string3, number1, number2, number3, tags, roles, maxUnauthorised } =
    member;
  const asset: AssetInput = {
    id,
    space,
    origin,
    mediaType,
    family,
    string1,
    string2,
    string3,
    number1,
    number2,
    number3,
    tags,
    roles,
    maxUnauthorised,
  };
  return Object.fromEntries(Object.entries(asset).filter(([, v]) => v !== undefined)) as unknown as AssetInput;
}

/** Submits the batch's error members as a new batch; a ConflictError when it has none (yet). */
export async function retryBatch(
  store: SubmitStore & Pick<QueueReader, 'getMembers'>,
  work: WorkQueue,
  request: { customer: number; batch: number },
  limits: SubmitLimits,
): Promise<SubmitResult> {
  const original = await store.getBatch(request.customer, request.batch, true);
  if (!original) throw new BatchNotFoundError(request.customer, request.batch);
  // From the batch's own partitions, read consistently: the error index (errorImages) lags a
  // moment behind on AWS, and a retry sent as soon as the batch finished must see every error.
  const refs = await store.memberRefsOfBatch(original.customer, original.batch, 'error');
  const failed: MemberRecord[] = [];
  for (const step of chunk(refs, CHUNK)) failed.push(...(await store.getMembers(step, true)).filter((m) => m.state === 'error'));
  failed.sort((a, b) => a.index - b.index);
  if (failed.length === 0) {
    const state = original.finished ? 'it finished without errors' : 'none of its members has failed so far';
    throw new ConflictError(`Batch ${original.batch} has no error members to retry: ${state}.`);
  }
  return submitBatch(
    store,
    work,
    { customer: original.customer, queue: original.queue, assets: failed.map(assetOf), retryOf: original.batch },
    limits,
  );
}
