/**
 * Global set-up of the integration project: one DynamoDB Local for the whole run instead of one per
 * suite. A JVM start costs seconds of CPU (half a minute on a busy 2-core machine) and the suites
 * start about forty runtimes; each runtime still gets a database of its own in the shared engine
 * (local/runtime.ts `sharedDynamoDbLocal`: a fresh access key ID per runtime), so suites stay
 * isolated. Workers are forked after this runs and inherit SHARED_DYNAMODB_LOCAL.
 */
import { type DynamoDbLocal, startDynamoDbLocal } from '../../local/emulators';
import { SHARED_DYNAMODB_LOCAL_ENV } from '../../local/runtime';

const KEY = Symbol.for('image-queue.shared-dynamodb-local');

export default async function startSharedDynamoDbLocal(): Promise<void> {
  // A developer's own choice wins (an engine they started, or `false`-like empty to opt out).
  if (process.env[SHARED_DYNAMODB_LOCAL_ENV] !== undefined) return;
  const dynamoDb = await startDynamoDbLocal({ startTimeoutMs: 120_000 });
  (globalThis as Record<symbol, unknown>)[KEY] = dynamoDb;
  process.env[SHARED_DYNAMODB_LOCAL_ENV] = dynamoDb.endpoint;
  // A run stopped by Ctrl-C or a kill skips the teardown and the 'exit' hook: take the JVM along.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      try {
        process.kill(dynamoDb.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      process.kill(process.pid, signal);
    });
  }
}

export async function stopSharedDynamoDbLocal(): Promise<void> {
  const dynamoDb = (globalThis as Record<symbol, unknown>)[KEY] as DynamoDbLocal | undefined;
  await dynamoDb?.stop();
}
