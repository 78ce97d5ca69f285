/**
 * `npm run reconcile [-- --fix] [--table NAME]`: recomputes every batch's and customer's counters
 * from the members and prints the drift; `--fix` writes the recomputed values back.
 *
 * Against AWS: set AWS credentials/region and `--table` (the stack's TableName output).
 * Against the local runtime or LocalStack: also set AWS_ENDPOINT_URL (npm start prints it).
 */

import { reconcileTable } from '../lambdas/adapters/reconcile-store';
import { ENV } from '../lambdas/config/resources';
import { formatDrift } from '../lambdas/domain/reconcile';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const tableFlag = args.indexOf('--table');
  if (tableFlag >= 0 && args[tableFlag + 1]) process.env[ENV.tableName] = args[tableFlag + 1];
  process.env[ENV.tableName] ??= 'image-queue';
  const fix = args.includes('--fix');
  const report = await reconcileTable({ fix });
  console.log(`table ${process.env[ENV.tableName]}: ${report.customers} customers, ${report.batches} batches, ${report.members} members`);
  console.log(formatDrift(report.drift));
  if (fix && report.fixed > 0) console.log(`fixed ${report.fixed} items`);
  process.exitCode = report.drift.length > 0 && !fix ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(`reconcile failed: ${(error as Error).message}`);
  process.exitCode = 2;
});
