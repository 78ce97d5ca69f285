/**
 * Completion notices on SNS. The store marks a notice pending in the same write that finishes the
 * batch; whoever finished it publishes right away and clears the mark, and the sweeper publishes
 * what a crashed or failed publisher left (`sendPendingNotices`). A finish happens once (a
 * conditional write), so a batch is announced once; only a crash between the publish and the
 * clearing of its mark can announce it twice — each notice carries the batch's `@id` to dedupe on.
 */
import { PublishCommand } from '@aws-sdk/client-sns';
import { settings } from '../config/settings';
import type { BatchRecord } from '../domain/model';
import { completionNotice } from '../domain/notices';
import type { CompletionNotices, NoticeStore, ProcessingStore } from '../domain/ports';
import { logger } from '../observability/logger';
import { sns } from './aws-clients';

const batchUrl = (b: BatchRecord) => `${settings.apiBaseUrl()}/customers/${b.customer}/queue/batches/${b.batch}`;

/** Publishes on the topic named by NOTICES_TOPIC_ARN; nothing when it is unset. */
export const snsCompletionNotices: CompletionNotices = {
  async publish(batch) {
    const topic = settings.noticesTopicArn();
    if (!topic) return;
    await sns().send(
      new PublishCommand({
        TopicArn: topic,
        Subject: `Batch ${batch.batch} of customer ${batch.customer} finished`,
        Message: JSON.stringify(completionNotice(batch, batchUrl(batch))),
        // Lets a subscription filter by customer or outcome (SNS filter policies).
        MessageAttributes: {
          customer: { DataType: 'Number', StringValue: String(batch.customer) },
          errors: { DataType: 'Number', StringValue: String(batch.errors) },
        },
      }),
    );
  },
};

async function announce(store: NoticeStore, notices: CompletionNotices, batch: BatchRecord): Promise<boolean> {
  try {
    await notices.publish(batch);
  } catch (error) {
    logger.warn('could not publish a completion notice; the sweeper will retry', {
      customer: batch.customer,
      batch: batch.batch,
      error: error as Error,
    });
    return false;
  }
  await store.noticeSent(batch.customer, batch.batch);
  return true;
}

/** The store, announcing every batch that its `finalizeBatch` finishes. */
export function withCompletionNotices<S extends Pick<ProcessingStore, 'finalizeBatch'> & NoticeStore>(
  store: S,
  notices: CompletionNotices,
): S {
  const announcing = Object.create(store) as S;
  announcing.finalizeBatch = async (...args: Parameters<ProcessingStore['finalizeBatch']>) => {
    const finished = await store.finalizeBatch(...args);
    if (finished) await announce(store, notices, finished);
    return finished;
  };
  return announcing;
}

/** Publishes the notices still pending for batches that finished before `before`; returns how many. */
export async function sendPendingNotices(store: NoticeStore, notices: CompletionNotices, before: string): Promise<number> {
  let sent = 0;
  for (const batch of await store.pendingNotices(before)) if (await announce(store, notices, batch)) sent += 1;
  return sent;
}
