/**
 * The emulator's own speed for the operation processing is built on: TransactWriteItems with two
 * updates, 16 in flight, for a few seconds, straight from a client (no handler, no counters). Each
 * worker updates its own two items so no transaction conflicts with another.
 */

import { performance } from 'node:perf_hooks';
import { TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { type LocalCredentials, localDynamoClient } from '../../local/provision';

export interface TransactionRateResult {
  inFlight: number;
  durationMs: number;
  transactions: number;
  /** Transactions per second. */
  perSecond: number;
}

export async function measureTransactionRate(
  dynamoEndpoint: string,
  tableName: string,
  target: { region: string; credentials: LocalCredentials },
  options: { inFlight?: number; durationMs?: number } = {},
): Promise<TransactionRateResult> {
  const inFlight = options.inFlight ?? 16;
  const durationMs = options.durationMs ?? 3_000;
  const client = localDynamoClient(dynamoEndpoint, target.region, target.credentials);
  const update = (pk: string, sk: string) => ({
    Update: {
      TableName: tableName,
      Key: { pk: { S: pk }, sk: { S: sk } },
      UpdateExpression: 'ADD n :one',
      ExpressionAttributeValues: { ':one': { N: '1' } },
    },
  });
  try {
    // Warm-up: one transaction per worker (connections, JIT) outside the timed window.
    await Promise.all(
      Array.from({ length: inFlight }, (_, w) =>
        client.send(new TransactWriteItemsCommand({ TransactItems: [update(`BENCH#TX#${w}`, 'A'), update(`BENCH#TX#${w}`, 'B')] })),
      ),
    );
    let transactions = 0;
    const started = performance.now();
    const deadline = started + durationMs;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, w) => {
        while (performance.now() < deadline) {
          await client.send(new TransactWriteItemsCommand({ TransactItems: [update(`BENCH#TX#${w}`, 'A'), update(`BENCH#TX#${w}`, 'B')] }));
          transactions += 1;
        }
      }),
    );
    const elapsed = performance.now() - started;
    return { inFlight, durationMs: elapsed, transactions, perSecond: (transactions / elapsed) * 1000 };
  } finally {
    client.destroy();
  }
}
