/**
 * `npm start`: runs the whole service locally (see local/runtime.ts) until SIGINT/SIGTERM.
 * PORT (default 3000) picks the API port; ADMIN_KEY / ADMIN_SECRET override the admin credential.
 */
import { ENV } from '../lambdas/config/resources';
import { DEFAULT_ADMIN_KEY, DEFAULT_ADMIN_SECRET, DEFAULT_PORT, startLocalRuntime, type LocalRuntime } from './runtime';

async function main(): Promise<void> {
  const port = process.env.PORT ? Number(process.env.PORT) : DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not ${process.env.PORT}`);
  const adminKey = process.env[ENV.adminKey] || DEFAULT_ADMIN_KEY;
  const adminSecret = process.env[ENV.adminSecret] || DEFAULT_ADMIN_SECRET;
  const extra: Record<string, string> = { [ENV.adminKey]: adminKey, [ENV.adminSecret]: adminSecret };
  if (process.env[ENV.maxBodyBytes]) extra[ENV.maxBodyBytes] = process.env[ENV.maxBodyBytes] as string;

  let runtime: LocalRuntime | undefined;
  let stopping = false;
  let firstSignalAt = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      // tsx relays the signal the process group already got: ignore duplicates that arrive at once.
      // A later, deliberate second signal leaves now (the exit hook still kills DynamoDB Local).
      if (Date.now() - firstSignalAt > 1000) process.exit(130);
      return;
    }
    stopping = true;
    firstSignalAt = Date.now();
    console.log(`\n${signal}: stopping…`);
    const done = runtime ? runtime.stop() : Promise.resolve();
    done.then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  const started = Date.now();
  runtime = await startLocalRuntime({ port, env: extra });
  if (stopping) {
    // A signal arrived while starting: stop what started.
    await runtime.stop();
    process.exit(0);
  }
  const basic = Buffer.from(`${adminKey}:${adminSecret}`).toString('base64');
  console.log(
    [
      `Local image queue ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      `  API:            ${runtime.apiUrl}`,
      `  Admin key:      ${adminKey}`,
      `  Admin secret:   ${adminSecret}   (HTTP Basic: ${adminKey}:${adminSecret})`,
      `  DynamoDB Local: ${runtime.dynamoEndpoint}   table ${runtime.env[ENV.tableName]}`,
      `  SQS (fauxqs):   ${runtime.sqsEndpoint}`,
      '',
      'Try:',
      `  curl -s ${runtime.apiUrl}/queue`,
      `  curl -s -u '${adminKey}:${adminSecret}' ${runtime.apiUrl}/queue/status`,
      `  curl -s -H 'Authorization: Basic ${basic}' -H 'Content-Type: application/json' \\`,
      `    -d '{"@type":"Collection","member":[{"id":"a","space":1,"origin":"https://example.org/a.jpg"}]}' \\`,
      `    ${runtime.apiUrl}/customers/1/queue`,
      '',
      'Ctrl+C to stop.',
    ].join('\n'),
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
