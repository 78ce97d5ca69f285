/** Turning SQS event records into the domain's delivered messages. */
import type { SQSRecord } from 'aws-lambda';
import { parseMemberMessage } from '../adapters/sqs-work-queue';
import type { DeliveredMessage } from '../domain/processing';

export function deliveredMessages(records: readonly SQSRecord[]): DeliveredMessage[] {
  return records.map((r) => ({
    messageId: r.messageId,
    member: parseMemberMessage(r.body),
    receiveCount: Number(r.attributes?.ApproximateReceiveCount ?? 1),
  }));
}
