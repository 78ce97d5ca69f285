/**
 * The CDK app: one `ImageQueueStack`, id `ImageQueue`, or `ImageQueue-<stage>` with `-c stage=<stage>`
 * (every name in the stack derives from the stack name, so stages live side by side in one account).
 * Synthesises offline without credentials (account/region stay unresolved unless the CLI sets
 * CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION). `-c retain=true` keeps the stateful resources;
 * `-c corsOrigins=https://a.example,https://b.example` allows those browser origins.
 */
import { App } from 'aws-cdk-lib';
import { ImageQueueStack } from '../lib/image-queue-stack';

const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

const stage: unknown = app.node.tryGetContext('stage');
if (stage !== undefined && !(typeof stage === 'string' && /^[A-Za-z][A-Za-z0-9-]{0,20}$/.test(stage))) {
  throw new Error(`-c stage must be letters, digits and dashes (at most 21), starting with a letter; got ${String(stage)}`);
}
const corsOrigins: unknown = app.node.tryGetContext('corsOrigins');

new ImageQueueStack(app, stage ? `ImageQueue-${stage}` : 'ImageQueue', {
  description: 'Image registration queue: API Gateway + Lambda + DynamoDB + SQS',
  ...(typeof corsOrigins === 'string' && corsOrigins.trim() !== ''
    ? {
        corsAllowedOrigins: corsOrigins
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean),
      }
    : {}),
  ...(account || region ? { env: { account, region } } : {}),
});

app.synth();
