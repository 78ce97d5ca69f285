/**
 * What `bin/app.ts` builds from the CDK context, apart so the infrastructure tests can build it the
 * same way (with context of their own) without synthesising to disk.
 *
 * - `-c stage=<stage>`: stack `ImageQueue-<stage>` instead of `ImageQueue` (every name in the stack
 *   derives from the stack name, so stages live side by side in one account).
 * - `-c retain=true`: keep the stateful resources (read by the stack itself).
 * - `-c corsOrigins=https://a.example,https://b.example`: allow those browser origins.
 * - `-c alarmEmail=ops@example.org`: subscribe that address to the alarm topic.
 *
 * Account and region stay unresolved unless the CLI sets CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION, so
 * the app synthesises offline without credentials. Blank values count as not given.
 */
import type { App } from 'aws-cdk-lib';
import { ImageQueueStack, isEmailAddress } from './image-queue-stack';

/** A context value as a trimmed string; undefined when not given or blank. */
function contextString(app: App, key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

export function stackFromContext(app: App, env: NodeJS.ProcessEnv = process.env): ImageQueueStack {
  const stage = contextString(app, 'stage');
  if (stage !== undefined && !/^[A-Za-z][A-Za-z0-9-]{0,20}$/.test(stage)) {
    throw new Error(`-c stage must be letters, digits and dashes (at most 21), starting with a letter; got ${stage}`);
  }
  const corsOrigins = contextString(app, 'corsOrigins');
  const alarmEmail = contextString(app, 'alarmEmail');
  if (alarmEmail !== undefined && !isEmailAddress(alarmEmail)) {
    throw new Error(`-c alarmEmail must be one e-mail address such as ops@example.org; got "${alarmEmail}"`);
  }
  const account = env.CDK_DEFAULT_ACCOUNT;
  const region = env.CDK_DEFAULT_REGION;

  return new ImageQueueStack(app, stage ? `ImageQueue-${stage}` : 'ImageQueue', {
    description: 'Image registration queue: API Gateway + Lambda + DynamoDB + SQS',
    ...(corsOrigins
      ? {
          corsAllowedOrigins: corsOrigins
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean),
        }
      : {}),
    ...(alarmEmail ? { alarmEmail } : {}),
    ...(account || region ? { env: { account, region } } : {}),
  });
}
