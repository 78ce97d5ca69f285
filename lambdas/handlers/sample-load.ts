/**
 * Scheduled every minute (SCHEDULES.sampleLoad): records one load sample per customer and queue
 * from the exact customer counters (never a scan), kept for `retentionDays` by the table's TTL.
 * Returns the sample time so callers (tests, operators running it by hand) can find the samples.
 */
import middy from '@middy/core';
import { queueStore } from '../adapters';
import { logger } from '../adapters/logger';
import { operatorStore } from '../adapters/operator-store';
import { loadSamples, sampleExpiresAt } from '../domain/operator';

export const handler = middy(async (): Promise<{ time: string; samples: number }> => {
  const now = new Date();
  const time = now.toISOString();
  const customers = await queueStore().listCustomers();
  const samples = loadSamples(customers, time);
  await operatorStore().putSamples(samples, sampleExpiresAt(now));
  logger.debug('recorded load samples', { time, samples: samples.length });
  return { time, samples: samples.length };
}).before(async (request) => logger.addContext(request.context));
