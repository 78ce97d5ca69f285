/**
 * Scheduled every minute: finishes the enqueueing of batches whose submit handler died before it
 * sent every message (see domain/submit.ts `resumeEnqueueing`).
 */
import middy from '@middy/core';
import { queueStore, workQueue } from '../adapters';
import { logger } from '../adapters/logger';
import { SCHEDULES } from '../config/resources';
import { resumeEnqueueing } from '../domain/submit';

export const handler = middy(async (event?: { staleAfterSeconds?: number }): Promise<{ resumed: number }> => {
  const staleAfter = event?.staleAfterSeconds ?? SCHEDULES.sweepEnqueueing.staleAfterSeconds;
  const before = new Date(Date.now() - staleAfter * 1000).toISOString();
  const stale = await queueStore().staleEnqueueing(before);
  for (const batch of stale) {
    logger.warn('resuming the enqueueing of a batch whose submit did not finish', { customer: batch.customer, batch: batch.batch });
    await resumeEnqueueing(queueStore(), workQueue(), batch);
  }
  return { resumed: stale.length };
}).before(async (request) => logger.addContext(request.context));
