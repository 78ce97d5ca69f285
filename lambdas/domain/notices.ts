/**
 * Completion notices: the message sent once per finished batch, with the fields of DLCS's
 * `BatchCompletedNotification` (PascalCase, as DLCS publishes them) plus the batch's `@id` and the
 * members cancelled, so a subscriber needs no further call to know how the batch ended.
 */
import { type BatchRecord, isSuperseded } from './model';

export interface BatchCompletedNotification {
  '@id': string;
  Id: number;
  Customer: number;
  Count: number;
  Completed: number;
  Errors: number;
  Cancelled: number;
  Superseded: boolean;
  Submitted: string;
  Finished: string;
}

/** `batchUrl`: the batch's absolute URL (its `@id` in the API). */
export function completionNotice(batch: BatchRecord, batchUrl: string): BatchCompletedNotification {
  return {
    '@id': batchUrl,
    Id: batch.batch,
    Customer: batch.customer,
    Count: batch.count,
    Completed: batch.completed,
    Errors: batch.errors,
    Cancelled: batch.cancelled ?? 0,
    Superseded: isSuperseded(batch),
    Submitted: batch.submitted,
    Finished: batch.finished ?? '',
  };
}
