/** Turning SQS event records into the domain's delivered messages, and telling which queue sent them. */
import type { SQSRecord } from 'aws-lambda';
import { type EventSourceName, type FunctionName, maxReceiveCountOf, sourcesOf } from '../config/functions';
import { settings } from '../config/settings';
import type { DeliveredMessage } from '../domain/processing';
import { parseMemberMessage } from './sqs-work-queue';

export function deliveredMessages(records: readonly SQSRecord[]): DeliveredMessage[] {
  return records.map((r) => ({
    messageId: r.messageId,
    member: parseMemberMessage(r.body),
    receiveCount: Number(r.attributes?.ApproximateReceiveCount ?? 1),
  }));
}

/**
 * Which of `fn`'s event sources (`CONSUMERS`) the records came from: the queue whose URL ends with
 * the name the records' ARN ends with (on AWS and locally alike, a queue's URL and ARN both end
 * with its name; the stack gives each consumer its sources' URLs). One event comes from one event
 * source mapping, so the first record tells. Undefined when no source matches (a direct call).
 */
export function sourceOf(records: readonly SQSRecord[], fn: FunctionName): EventSourceName | undefined {
  const name = records[0]?.eventSourceARN?.split(':').pop();
  if (!name) return undefined;
  return sourcesOf(fn).find((source) => settings.eventSourceUrl(source)?.split('/').pop() === name);
}

/**
 * Receives after which SQS dead-letters the records' messages, from their own queue's redrive
 * policy. When the queue is unknown, the largest count among `fn`'s sources: a last attempt is
 * then never declared too early (a message that outlives it is dead-lettered and recorded anyway).
 */
export function maxReceiveCountFor(records: readonly SQSRecord[], fn: FunctionName): number {
  const source = sourceOf(records, fn);
  return source ? maxReceiveCountOf(source) : Math.max(...sourcesOf(fn).map(maxReceiveCountOf));
}
