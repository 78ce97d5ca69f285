/**
 * Consumer of the dead-letter queues: a member whose message kept failing is recorded as an error
 * with a readable reason, so its batch still finishes. Task messages are only logged.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import middy from '@middy/core';
import { queueStore } from '../adapters';
import { logger } from '../adapters/logger';
import { QUEUES } from '../config/resources';
import { recordDeadLetters } from '../domain/processing';
import { deliveredMessages } from './sqs-records';

const REASON = `processing failed ${QUEUES.main.maxReceiveCount} times (the processor crashed or timed out each time); the image was not ingested`;

export const handler = middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const messages = deliveredMessages(event.Records);
  const members = messages.filter((m) => m.member);
  for (const m of messages) if (!m.member) logger.error('dead letter that is not a member message', { messageId: m.messageId, body: event.Records.find((r) => r.messageId === m.messageId)?.body.slice(0, 500) });
  try {
    await recordDeadLetters(queueStore(), members, REASON);
    return { batchItemFailures: [] };
  } catch (error) {
    logger.error('could not record dead letters; they will be retried', { error: error as Error });
    return { batchItemFailures: members.map((m) => ({ itemIdentifier: m.messageId })) };
  }
}).before(async (request) => logger.addContext(request.context));
