/**
 * `npm start`: runs the whole service locally (see local/runtime.ts) until SIGINT/SIGTERM.
 * PORT (default 3000) picks the API port; ADMIN_KEY / ADMIN_SECRET override the admin credential.
 * AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL use existing services
 * (e.g. LocalStack) instead of the emulators, LOCAL_PREFIX renames the table and queues
 * (local/endpoints.ts).
 */
import { ENV, USAGE_LIMITS } from '../lambdas/config/resources';
import { externalEndpointsFromEnv, LOCAL_PREFIX_ENV } from './endpoints';
import {
  DEFAULT_ADMIN_KEY,
  DEFAULT_ADMIN_SECRET,
  DEFAULT_PORT,
  LOCAL_USAGE_LIMITS_ENV,
  type LocalRuntime,
  startLocalRuntime,
} from './runtime';
import { STRICT_DYNAMODB_ENV } from './strict-dynamodb';

/** The banner's line about the per-key request limits (429 above them, as API Gateway's usage plans). */
function limitsLine(): string {
  if (process.env[LOCAL_USAGE_LIMITS_ENV]?.trim().toLowerCase() === 'off') return `  Limits:         off (${LOCAL_USAGE_LIMITS_ENV}=off)`;
  const { customer, admin } = USAGE_LIMITS;
  return (
    `  Limits:         each customer key ${customer.rateLimit} req/s ` +
    `(burst ${customer.burstLimit}, ${customer.quota.limit.toLocaleString('en')} a day), ` +
    `admin ${admin.rateLimit} req/s; ${LOCAL_USAGE_LIMITS_ENV}=off to lift them`
  );
}

/** The banner's lines about DynamoDB, SQS and strict mode. */
function serviceLines(runtime: LocalRuntime, prefix: string): string[] {
  const table = runtime.env[ENV.tableName];
  const lines = [
    runtime.dynamoExternal
      ? `  DynamoDB:       external ${runtime.dynamoUpstreamEndpoint}   table ${table}`
      : `  DynamoDB:       embedded DynamoDB Local ${runtime.dynamoUpstreamEndpoint}   table ${table}`,
  ];
  if (runtime.strict) {
    lines.push(`                  every client goes through the strict proxy ${runtime.dynamoEndpoint}`);
  }
  lines.push(
    runtime.sqsExternal
      ? `  SQS:            external ${runtime.sqsEndpoint}   queues ${prefix}-Main, -Priority, -Tasks (+ -dlq)`
      : `  SQS:            embedded fauxqs ${runtime.sqsEndpoint}   queues ${prefix}-Main, -Priority, -Tasks (+ -dlq)`,
    `  Region:         ${runtime.region}   (${LOCAL_PREFIX_ENV}=… renames the table and queues)`,
  );
  if (runtime.strict) {
    const settings = Object.entries(runtime.strict.options)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    lines.push(
      `  Strict mode:    on: DynamoDB behaves like AWS (transaction conflicts, per-key throttling, GSI lag, random throttles/500s)`,
      `                  ${STRICT_DYNAMODB_ENV}=${settings}`,
      `                  turn off: ${STRICT_DYNAMODB_ENV}=off npm start`,
    );
  } else if (runtime.dynamoExternal) {
    lines.push(`  Strict mode:    off (external DynamoDB; ${STRICT_DYNAMODB_ENV}=on npm start puts the strict proxy in front of it)`);
  } else {
    lines.push(
      `  Strict mode:    off (${STRICT_DYNAMODB_ENV}=${process.env[STRICT_DYNAMODB_ENV] ?? ''}; unset it for AWS-like DynamoDB behaviour)`,
    );
  }
  return lines;
}

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

  const services = externalEndpointsFromEnv(process.env);
  const started = Date.now();
  runtime = await startLocalRuntime({ port, env: extra, ...services });
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
      `  Console:        ${runtime.apiUrl}/console   (sign in with a key:secret, e.g. the admin's below)`,
      `  Admin key:      ${adminKey}`,
      `  Admin secret:   ${adminSecret}   (HTTP Basic: ${adminKey}:${adminSecret})`,
      ...serviceLines(runtime, services.prefix),
      limitsLine(),
      '',
      'Try:',
      `  curl -s ${runtime.apiUrl}/queue`,
      `  curl -s -u '${adminKey}:${adminSecret}' ${runtime.apiUrl}/queue/status`,
      `  curl -s -H 'Authorization: Basic ${basic}' -H 'Content-Type: application/json' \\`,
      `    -d '{"@type":"Collection","member":[{"id":"a","space":1,"origin":"https://example.org/a.jpg"}]}' \\`,
      `    ${runtime.apiUrl}/customers/1/queue`,
      `  AWS_ENDPOINT_URL_DYNAMODB=${runtime.dynamoEndpoint} npm run reconcile -- --table ${runtime.env[ENV.tableName]}`,
      '',
      'Ctrl+C to stop.',
    ].join('\n'),
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
