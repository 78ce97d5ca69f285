/**
 * Scheduled every minute: finishes the enqueueing of batches whose submit handler died before it
 * sent every message (see domain/submit.ts `resumeEnqueueing`), and publishes the completion
 * notices that a finisher did not get to send (adapters/notices.ts).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { queueStore, workQueue } from '../adapters';
import { sendPendingNotices, snsCompletionNotices } from '../adapters/notices';
import { SCHEDULES } from '../config/functions';
import { resumeEnqueueing } from '../domain/submit';
import { logger } from '../observability/logger';

/** A notice still pending this long after its batch finished was not sent by the finisher. */
export const NOTICE_GRACE_SECONDS = 60;

export const handler = middy(
  async (event?: { staleAfterSeconds?: number; noticeGraceSeconds?: number }): Promise<{ resumed: number; notices: number }> => {
    const staleAfter = event?.staleAfterSeconds ?? SCHEDULES.sweepEnqueueing.staleAfterSeconds;
    const before = new Date(Date.now() - staleAfter * 1000).toISOString();
    const stale = await queueStore().staleEnqueueing(before);
    for (const batch of stale) {
      logger.warn('resuming the enqueueing of a batch whose submit did not finish', { customer: batch.customer, batch: batch.batch });
      await resumeEnqueueing(queueStore(), workQueue(), batch);
    }
    const finishedBefore = new Date(Date.now() - (event?.noticeGraceSeconds ?? NOTICE_GRACE_SECONDS) * 1000).toISOString();
    const notices = await sendPendingNotices(queueStore(), snsCompletionNotices, finishedBefore);
    if (notices > 0) logger.warn('sent completion notices their finishers had left pending', { notices });
    return { resumed: stale.length, notices };
  },
).use(injectLambdaContext(logger, { resetKeys: true }));
