/**
 * The CDK app: one `ImageQueueStack`, id `ImageQueue`, or `ImageQueue-<stage>` with `-c stage=<stage>`.
 * The context it reads (`stage`, `retain`, `corsOrigins`, `alarmEmail`) is described in lib/app.ts.
 */
import { App } from 'aws-cdk-lib';
import { stackFromContext } from '../lib/app';

const app = new App();
stackFromContext(app);
app.synth();
