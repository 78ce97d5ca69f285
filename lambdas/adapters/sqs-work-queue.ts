/**
 * The WorkQueue port on SQS: SendMessageBatch in tens, retrying the entries SQS reports as
 * failed (it answers 200 with per-entry failures), and queue depth for the global queue view.
 */
import { ChangeMessageVisibilityBatchCommand, GetQueueAttributesCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { type QueueName, SUPERSEDE_TASK_DELAY_SECONDS, type WorkQueueName } from '../config/resources';
import { settings } from '../config/settings';
import { backoffMs, chunk, inParallel, sleep } from '../domain/async';
import type { MemberMessage, TaskMessage } from '../domain/model';
import type { WorkQueue } from '../domain/ports';
import { sqs } from './aws-clients';

/** SendMessageBatch takes at most 10 entries. */
const SEND_BATCH_LIMIT = 10;

export async function sendAll(
  queueUrl: string,
  bodies: readonly string[],
  options: { parallelism?: number; delaySeconds?: number } = {},
): Promise<void> {
  const delay = options.delaySeconds ? { DelaySeconds: options.delaySeconds } : {};
  await inParallel(chunk(bodies, SEND_BATCH_LIMIT), options.parallelism ?? 16, async (group) => {
    let entries = group.map((MessageBody, i) => ({ Id: String(i), MessageBody, ...delay }));
    for (let attempt = 0; entries.length > 0; attempt++) {
      if (attempt > 0) await sleep(backoffMs(attempt));
      if (attempt > 8) throw new Error(`SendMessageBatch kept failing for ${entries.length} entries`);
      const result = await sqs().send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      const failed = new Set((result.Failed ?? []).map((f) => f.Id));
      const senderFault = (result.Failed ?? []).find((f) => f.SenderFault);
      if (senderFault) throw new Error(`SQS rejected a message: ${senderFault.Code} ${senderFault.Message}`);
      entries = entries.filter((e) => failed.has(e.Id));
    }
  });
}

export class SqsWorkQueue implements WorkQueue {
  async sendMembers(queue: QueueName, messages: readonly MemberMessage[]): Promise<void> {
    await sendAll(
      settings.queueUrl(queue),
      messages.map((m) => JSON.stringify({ c: m.customer, b: m.batch, i: m.index })),
    );
  }

  async sendTasks(messages: readonly TaskMessage[]): Promise<void> {
    await sendAll(
      settings.queueUrl('tasks'),
      messages.map((m) => JSON.stringify(m)),
      { delaySeconds: SUPERSEDE_TASK_DELAY_SECONDS },
    );
  }

  async depth(queue: WorkQueueName): Promise<number> {
    const { Attributes = {} } = await sqs().send(
      new GetQueueAttributesCommand({
        QueueUrl: settings.queueUrl(queue),
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
    );
  }
}

/** A received message as its event record names it. */
export interface ReceivedMessage {
  /** The queue's ARN (the event record's `eventSourceARN`). */
  queueArn: string;
  receiptHandle: string;
}

/**
 * Makes received messages visible again after `seconds` rather than at the end of the queue's
 * visibility timeout. The queue is found among the configured work queues by the name its ARN
 * ends with (locally the URLs are the emulator's, not AWS's).
 */
export async function delayRedelivery(messages: readonly ReceivedMessage[], seconds: number): Promise<void> {
  const byQueue = new Map<string, string[]>();
  for (const m of messages) byQueue.set(m.queueArn, [...(byQueue.get(m.queueArn) ?? []), m.receiptHandle]);
  for (const [arn, handles] of byQueue) {
    const name = arn.split(':').pop();
    const url = (['main', 'priority'] as const).map((q) => settings.queueUrl(q)).find((u) => u.split('/').pop() === name);
    if (!url) throw new Error(`no configured work queue has the ARN ${arn}`);
    for (const group of chunk(handles, SEND_BATCH_LIMIT)) {
      const result = await sqs().send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: group.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle, VisibilityTimeout: seconds })),
        }),
      );
      if (result.Failed?.length)
        throw new Error(`ChangeMessageVisibility failed for ${result.Failed.length} messages: ${result.Failed[0]?.Message}`);
    }
  }
}

/** Parses a member message body (`{"c":1,"b":2,"i":3}`); undefined if it is not one. */
export function parseMemberMessage(body: string): MemberMessage | undefined {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const [customer, batch, index] = [parsed.c, parsed.b, parsed.i];
    if ([customer, batch, index].every((n) => Number.isInteger(n) && (n as number) >= 0)) {
      return { customer: customer as number, batch: batch as number, index: index as number };
    }
  } catch {
    // fall through
  }
  return undefined;
}
