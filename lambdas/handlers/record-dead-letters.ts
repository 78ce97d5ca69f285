/**
 * Consumer of the main and priority dead-letter queues: a member whose message kept failing is
 * recorded as an error with a readable reason, so its batch still finishes, and is counted in the
 * ImagesDeadLettered metric (the alarm a person sees; the message itself is deleted once recorded).
 * The tasks dead-letter queue has no consumer: its messages stay there for a person to inspect and
 * redrive.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { queueStore } from '../adapters';
import { countingFinishedBatches, withInvocationMetrics } from '../adapters/metrics';
import { deliveredMessages, maxReceiveCountFor } from '../adapters/sqs-records';
import { recordDeadLetters } from '../domain/processing';
import { logger } from '../observability/logger';

/** Why the member failed: its queue gave up after `receives` deliveries (the count of the queue the dead letter came from). */
const reasonFor = (receives: number) =>
  `processing failed ${receives} times (the processor crashed or timed out each time); the image was not ingested`;

/** `image-queue-Main-dlq` from the record's queue ARN, for the log. */
const queueOf = (arn: string | undefined) => arn?.split(':').pop() ?? 'unknown';

export const handler = middy(
  withInvocationMetrics(async (event: SQSEvent, observed): Promise<SQSBatchResponse> => {
    const messages = deliveredMessages(event.Records);
    const reason = reasonFor(maxReceiveCountFor(event.Records, 'record-dead-letters'));
    const members = messages.filter((m) => m.member);
    const recordOf = new Map(event.Records.map((r) => [r.messageId, r]));
    for (const m of messages) {
      if (!m.member)
        logger.error('dead letter that is not a member message', {
          messageId: m.messageId,
          body: recordOf.get(m.messageId)?.body.slice(0, 500),
        });
    }
    try {
      await recordDeadLetters(countingFinishedBatches(queueStore(), observed), members, reason);
    } catch (error) {
      logger.error('could not record dead letters; they will be retried', { error: error as Error });
      return { batchItemFailures: members.map((m) => ({ itemIdentifier: m.messageId })) };
    }
    // Counted once recorded: a failed attempt is retried and would otherwise count twice.
    for (const m of members) {
      const { customer, batch, index } = m.member!;
      logger.error('image dead-lettered: recorded as an error, not ingested', {
        member: `${customer}/${batch}/${index}`,
        messageId: m.messageId,
        deadLetterQueue: queueOf(recordOf.get(m.messageId)?.eventSourceARN),
        reason,
      });
    }
    observed.imagesDeadLettered(members.length);
    return { batchItemFailures: [] };
  }),
).use(injectLambdaContext(logger, { resetKeys: true }));
