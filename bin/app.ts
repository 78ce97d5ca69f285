/**
 * The CDK app: one `ImageQueueStack` with id `ImageQueue`.
 * Synthesises offline without credentials (account/region stay unresolved unless the CLI sets
 * CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION). `-c retain=true` keeps the stateful resources.
 */
import { App } from 'aws-cdk-lib';
import { ImageQueueStack } from '../lib/image-queue-stack';

const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

new ImageQueueStack(app, 'ImageQueue', {
  description: 'Image registration queue: API Gateway + Lambda + DynamoDB + SQS',
  ...(account || region ? { env: { account, region } } : {}),
});

app.synth();
