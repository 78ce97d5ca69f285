/**
 * Consumer of the main and priority queues: ingests each member's origin and records the outcomes.
 * Reports partial batch failures by message id (the event source has ReportBatchItemFailures).
 * Emits OriginFailures (per failed fetch, by kind) and BatchesFinished.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { queueStore } from '../adapters';
import { countingFinishedBatches, originFailureKind, withInvocationMetrics } from '../adapters/metrics';
import { ingestOrigin } from '../adapters/origin';
import { deliveredMessages, maxReceiveCountFor } from '../adapters/sqs-records';
import { delayRedelivery } from '../adapters/sqs-work-queue';
import { settings } from '../config/settings';
import { type IngestResult, processDelivery } from '../domain/processing';
import { logger } from '../observability/logger';

export const handler = middy(
  withInvocationMetrics(async (event: SQSEvent, observed): Promise<SQSBatchResponse> => {
    const ingest = async (origin: string): Promise<IngestResult> => {
      let result: IngestResult;
      try {
        result = await ingestOrigin(origin, {
          timeoutMs: settings.originTimeoutMs(),
          maxBytes: settings.originMaxBytes(),
          allowPrivate: settings.allowPrivateOrigins(),
        });
      } catch (error) {
        observed.originFailed('other'); // ingestOrigin promises not to throw; the domain copes if it does
        throw error;
      }
      if (!result.ok) observed.originFailed(originFailureKind(result.error));
      return result;
    };
    const received = new Map(event.Records.map((r) => [r.messageId, { queueArn: r.eventSourceARN, receiptHandle: r.receiptHandle }]));
    const failed = await processDelivery(
      {
        store: countingFinishedBatches(queueStore(), observed),
        retryDelays: settings.transientRetryDelays(),
        retryLater: (ids, seconds) =>
          delayRedelivery(
            ids.flatMap((id) => received.get(id) ?? []),
            seconds,
          ),
        ingest,
        markRunningAfterMs: settings.markRunningAfterMs(),
        // Of the queue the records came from (main or priority).
        maxReceiveCount: maxReceiveCountFor(event.Records, 'process-images'),
      },
      deliveredMessages(event.Records),
    );
    if (failed.length > 0) logger.info('some messages will be retried', { failed: failed.length, of: event.Records.length });
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  }),
).use(injectLambdaContext(logger, { resetKeys: true }));
