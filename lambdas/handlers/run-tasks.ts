/**
 * Consumer of the tasks queue: supersede checks for newly submitted batches. A task that fails
 * `maxReceiveCount` times goes to the tasks dead-letter queue, which nothing consumes: it stays
 * there (14 days) for a person to inspect and redrive, and its alarm fires.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { queueStore } from '../adapters';
import { QUEUES } from '../config/resources';
import { runSupersedeTask } from '../domain/supersede';
import { logger } from '../observability/logger';

/** Whether SQS will dead-letter this message if this attempt fails too. */
const lastAttempt = (record: SQSRecord) => Number(record.attributes?.ApproximateReceiveCount ?? 1) >= QUEUES.tasks.maxReceiveCount;

function parseTask(body: string) {
  try {
    const task = JSON.parse(body) as Record<string, unknown>;
    const fields = [task.customer, task.batch, task.from, task.to];
    if (task.type === 'supersede' && fields.every((n) => Number.isInteger(n) && (n as number) >= 0)) {
      return { customer: fields[0] as number, batch: fields[1] as number, from: fields[2] as number, to: fields[3] as number };
    }
  } catch {
    // fall through
  }
  return undefined;
}

export const handler = middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const failures: string[] = [];
  await Promise.all(
    event.Records.map(async (record) => {
      const task = parseTask(record.body);
      if (!task) {
        logger.error('unknown task; it will go to the dead-letter queue', { messageId: record.messageId });
        failures.push(record.messageId);
        return;
      }
      try {
        await runSupersedeTask(queueStore(), task);
      } catch (error) {
        if (lastAttempt(record)) {
          logger.error('task failed for the last time; it goes to the tasks dead-letter queue, kept there to inspect and redrive', {
            task,
            messageId: record.messageId,
            error: error as Error,
          });
        } else {
          logger.warn('task failed; it will be retried', { task, error: error as Error });
        }
        failures.push(record.messageId);
      }
    }),
  );
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
}).use(injectLambdaContext(logger, { resetKeys: true }));
