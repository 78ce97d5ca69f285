/**
 * Consumer of the main and priority queues: ingests each member's origin and records the outcomes.
 * Reports partial batch failures by message id (the event source has ReportBatchItemFailures).
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import middy from '@middy/core';
import { queueStore } from '../adapters';
import { logger } from '../adapters/logger';
import { ingestOrigin } from '../adapters/origin';
import { QUEUES } from '../config/resources';
import { settings } from '../config/settings';
import { processDelivery } from '../domain/processing';
import { deliveredMessages } from './sqs-records';

export const handler = middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const failed = await processDelivery(
    {
      store: queueStore(),
      ingest: (origin) =>
        ingestOrigin(origin, {
          timeoutMs: settings.originTimeoutMs(),
          maxBytes: settings.originMaxBytes(),
          allowPrivate: settings.allowPrivateOrigins(),
        }),
      markRunningAfterMs: settings.markRunningAfterMs(),
      maxReceiveCount: QUEUES.main.maxReceiveCount,
    },
    deliveredMessages(event.Records),
  );
  if (failed.length > 0) logger.info('some messages will be retried', { failed: failed.length, of: event.Records.length });
  return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
}).before(async (request) => logger.addContext(request.context));
