/**
 * Defaults shared by every Lambda function of the stack, and the helpers that give a function
 * access to a resource *and* the environment variable naming it in one call, so a permission and
 * its variable can never drift apart.
 */
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { DEFAULTS, ENV, type EnvName } from '../../lambdas/config/resources';
import type { ApiFunctionName } from '../../lambdas/config/routes';

/** Lambda entry files under `lambdas/handlers/` (each exports `handler`). */
export type HandlerName =
  | ApiFunctionName
  | 'authorizer'
  | 'process-images'
  | 'record-dead-letters'
  | 'run-tasks'
  | 'sweep-enqueueing'
  | 'sample-load';

export const HANDLERS_DIR = path.join(__dirname, '..', '..', 'lambdas', 'handlers');

/** Path of a handler's entry file. */
export function entryOf(handler: HandlerName): string {
  return path.join(HANDLERS_DIR, `${handler}.ts`);
}

/** Limits handed to the functions as environment variables (see `ENV` for what each means). */
export interface RuntimeLimits {
  /** @default DEFAULTS.maxBatchSize */
  readonly maxBatchSize: number;
  /** @default DEFAULTS.maxQueueSize */
  readonly maxQueueSize: number;
  /** @default DEFAULTS.maxBodyBytes */
  readonly maxBodyBytes: number;
  /** @default DEFAULTS.originTimeoutMs */
  readonly originTimeoutMs: number;
  /** @default DEFAULTS.originMaxBytes */
  readonly originMaxBytes: number;
  /** @default DEFAULTS.markRunningAfterMs */
  readonly markRunningAfterMs: number;
}

/** The environment variables carrying the limits, defaults from `DEFAULTS` unless overridden. */
export function limitsEnvironment(overrides: Partial<RuntimeLimits> = {}): Record<string, string> {
  const limits: RuntimeLimits = {
    maxBatchSize: DEFAULTS.maxBatchSize,
    maxQueueSize: DEFAULTS.maxQueueSize,
    maxBodyBytes: DEFAULTS.maxBodyBytes,
    originTimeoutMs: DEFAULTS.originTimeoutMs,
    originMaxBytes: DEFAULTS.originMaxBytes,
    markRunningAfterMs: DEFAULTS.markRunningAfterMs,
    ...overrides,
  };
  return {
    [ENV.maxBatchSize]: String(limits.maxBatchSize),
    [ENV.maxQueueSize]: String(limits.maxQueueSize),
    [ENV.maxBodyBytes]: String(limits.maxBodyBytes),
    [ENV.originTimeoutMs]: String(limits.originTimeoutMs),
    [ENV.originMaxBytes]: String(limits.originMaxBytes),
    [ENV.markRunningAfterMs]: String(limits.markRunningAfterMs),
  };
}

/** Settings every function of one stack shares. */
export interface FunctionDefaults {
  /**
   * X-Ray active tracing.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * What happens to the function's log group when it leaves the stack.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Extra environment variables for every function.
   * @default {}
   */
  readonly environment?: Record<string, string>;
}

export interface ServiceFunctionProps extends FunctionDefaults {
  /** The entry file under `lambdas/handlers/`. */
  readonly handler: HandlerName;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memoryMiB?: number;
  /** @default - none */
  readonly description?: string;
}

/**
 * A Node.js Lambda function with the stack's defaults: Node 22 on arm64, minified bundle with
 * source maps (and `--enable-source-maps` so stack traces point at TypeScript), the AWS SDK taken
 * from the runtime, an explicit log group kept for one month.
 */
export class ServiceFunction extends NodejsFunction {
  readonly handlerName: HandlerName;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id, {
      entry: entryOf(props.handler),
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: props.memoryMiB ?? 256,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      // An explicit log group, so retention and removal are ours rather than Lambda's defaults.
      logGroup: new logs.LogGroup(scope, `${id}Logs`, {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
      }),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node22',
        forceDockerBundling: false,
        // The Node.js 22 runtime ships AWS SDK v3.
        externalModules: ['@aws-sdk/*'],
        logLevel: LogLevel.WARNING,
      },
    });
    this.handlerName = props.handler;
  }
}

export type TableAccess = 'read' | 'readWrite';

/** Grants table access and sets `ENV.tableName`. */
export function bindTable(fn: lambda.Function, table: dynamodb.ITable, access: TableAccess): void {
  if (access === 'read') table.grantReadData(fn);
  else table.grantReadWriteData(fn);
  fn.addEnvironment(ENV.tableName, table.tableName);
}

/**
 * - `send`: SendMessage (and SendMessageBatch, which the same action authorises);
 * - `consume`: receive, delete, change visibility;
 * - `inspect`: GetQueueAttributes only (queue depth).
 */
export type QueueAccess = 'send' | 'consume' | 'inspect';

/** Grants queue access and sets the variable holding the queue URL. */
export function bindQueue(fn: lambda.Function, queue: sqs.IQueue, envName: EnvName, access: QueueAccess): void {
  switch (access) {
    case 'send':
      queue.grantSendMessages(fn);
      break;
    case 'consume':
      queue.grantConsumeMessages(fn);
      break;
    case 'inspect':
      queue.grant(fn, 'sqs:GetQueueAttributes');
      break;
  }
  fn.addEnvironment(envName, queue.queueUrl);
}

/** Grants read access to a secret and sets the variable holding its name. */
export function bindSecret(fn: lambda.Function, secret: secretsmanager.ISecret, envName: EnvName): void {
  secret.grantRead(fn);
  fn.addEnvironment(envName, secret.secretName);
}
