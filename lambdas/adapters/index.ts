/** Lazily created adapters shared by the handlers of one Lambda container. */
import type { QueueStore, WorkQueue } from '../domain/ports';
import { dynamoQueueStore } from './dynamo';
import { SqsWorkQueue } from './sqs-work-queue';

let store: QueueStore | undefined;
let work: WorkQueue | undefined;

export const queueStore = (): QueueStore => (store ??= dynamoQueueStore);
export const workQueue = (): WorkQueue => (work ??= new SqsWorkQueue());

/** Forgets the adapters (tests that change the environment between runtimes). */
export function resetAdapters(): void {
  store = undefined;
  work = undefined;
}
