/** Lazily created adapters shared by the handlers of one Lambda container. */
import type { QueueStore, WorkQueue } from '../domain/ports';
import { dynamoQueueStore } from './dynamo';
import { snsCompletionNotices, withCompletionNotices } from './notices';
import { SqsWorkQueue } from './sqs-work-queue';

let store: QueueStore | undefined;
let work: WorkQueue | undefined;

/** The table, announcing each batch it finishes on the notices topic. */
export const queueStore = (): QueueStore => (store ??= withCompletionNotices(dynamoQueueStore, snsCompletionNotices));
export const workQueue = (): WorkQueue => (work ??= new SqsWorkQueue());
