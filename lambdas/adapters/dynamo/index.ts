/**
 * The QueueStore ports on one DynamoDB table (key scheme in keys.ts), one module per use:
 * submit writes, transitions and their sharded counters, supersession, and reads.
 */
import type { QueueStore } from '../../domain/ports';
import { dynamoCancellation } from './cancellation';
import { dynamoReads } from './reads';
import { dynamoSubmitWrites } from './submit-writes';
import { dynamoSupersession } from './supersession';
import { dynamoTransitions } from './transitions';

export const dynamoQueueStore: QueueStore = {
  ...dynamoReads,
  ...dynamoSupersession,
  ...dynamoTransitions,
  ...dynamoSubmitWrites,
  ...dynamoCancellation,
};
