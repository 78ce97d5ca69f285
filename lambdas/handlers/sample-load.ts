/**
 * Scheduled every minute (SCHEDULES.sampleLoad): records the queue load from the exact customer
 * counters (never a scan): one item per customer with any load and one for their sum, none for an
 * idle customer (a missing sample means zero), kept for `retentionDays` by the table's TTL.
 * Returns the sample time and what was written so callers (tests, operators running it by hand)
 * can find the samples.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { queueStore } from '../adapters';
import { operatorStore } from '../adapters/operator-store';
import { SCHEDULES } from '../config/functions';
import { loadRun, sampleExpiresAt } from '../domain/operator';
import { logger } from '../observability/logger';

export interface SampleLoadResult {
  time: string;
  /** Customers with load at this time (one sample each). */
  samples: number;
  /** Items written: the samples, plus the all-customer sum when there was any load. */
  items: number;
}

export const handler = middy(async (): Promise<SampleLoadResult> => {
  const now = new Date();
  const time = now.toISOString();
  const run = loadRun(await queueStore().listCustomers(), time);
  const items = await operatorStore().putRun(run, sampleExpiresAt(now, SCHEDULES.sampleLoad.retentionDays));
  logger.debug('recorded load samples', { time, samples: run.samples.length, items });
  return { time, samples: run.samples.length, items };
}).use(injectLambdaContext(logger, { resetKeys: true }));
