/**
 * `ServiceFunction`, every Lambda function of the stack with its settings from `FUNCTIONS`
 * (lambdas/config/functions.ts); `applyGrants`, which gives a function its rights from
 * `FUNCTION_GRANTS` (lambdas/config/grants.ts) together with the environment variables naming the
 * resources; and `consumeQueue`, which wires an event source of `CONSUMERS`.
 */
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type ICommandHooks, LogLevel, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { CONSUMERS, type EventSourceName, FUNCTIONS, type FunctionName, urlEnvOf } from '../../lambdas/config/functions';
import { FUNCTION_GRANTS, type QueueAction } from '../../lambdas/config/grants';
import { METRICS } from '../../lambdas/config/metrics';
import { DEFAULTS, ENV, QUEUES, TABLE, type WorkQueueName } from '../../lambdas/config/resources';

export const HANDLERS_DIR = path.join(__dirname, '..', '..', 'lambdas', 'handlers');

/** Path of a handler's entry file. */
export function entryOf(handler: FunctionName): string {
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
  /** The entry file under `lambdas/handlers/`, and its settings in `FUNCTIONS`. */
  readonly handler: FunctionName;
  /** @default - `FUNCTIONS[handler].timeoutSeconds` */
  readonly timeout?: Duration;
  /** @default - `FUNCTIONS[handler].memoryMiB` */
  readonly memoryMiB?: number;
  /** @default - `FUNCTIONS[handler].description` */
  readonly description?: string;
}

/**
 * A Node.js Lambda function with the stack's defaults: Node 22 on arm64, minified bundle with its
 * source map beside it (read only when an error is logged, see `bundling` below), the AWS SDK
 * bundled at the version the tests ran against, an explicit log group kept for one month, and a
 * role of its own that may write to that log group only (no AWS managed policy). Timeout, memory,
 * description and the function's own variables come from its `FUNCTIONS` entry.
 */
export class ServiceFunction extends NodejsFunction {
  readonly handlerName: FunctionName;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    const definition = FUNCTIONS[props.handler];
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ${props.handler} function`,
    });
    // What AWSLambdaBasicExecutionRole grants, narrowed to this function's own log group.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );
    super(scope, id, {
      role,
      entry: entryOf(props.handler),
      handler: 'handler',
      description: props.description ?? definition.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(definition.timeoutSeconds),
      memorySize: props.memoryMiB ?? definition.memoryMiB,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      // An explicit log group, so retention and removal are ours rather than Lambda's defaults.
      logGroup,
      environment: {
        ...props.environment,
        ...definition.environment,
        // Its custom metrics carry the stack name, the dimension the alarms read.
        ...(definition.metrics ? { [METRICS.serviceEnv]: Stack.of(scope).stackName } : {}),
      },
      bundling: {
        // No `--enable-source-maps` (NODE_OPTIONS): with it Node reads and parses index.js.map
        // (1.9–3.4 MB) at every cold start. Measured 2026-12-07, Node 22.23.3, require of each
        // bundle in a fresh process, median of 9: 52–68 ms more CPU for every function but the
        // authorizer (35) and the console (20), e.g. api-read 194 → 129 ms. The map still ships:
        // the logger maps a logged error's stack through it (lambdas/observability/source-map.ts),
        // so logs keep their TypeScript positions; the map is parsed on the first error an
        // instance logs (run-tasks: 130–200 ms; with the flag its first error took 95–170 ms too,
        // building the same map). Errors the Lambda runtime logs itself (thrown out of a handler)
        // keep the bundle's positions. Not chosen: `keepNames` (readable names there, +5–10 ms
        // CPU every cold start) and no minifying (+10–25 ms, 2.5 times the size).
        minify: true,
        sourceMap: true,
        target: 'node22',
        forceDockerBundling: false,
        // Bundle the SDK rather than take the runtime's: the runtime's version is not the one the
        // tests ran against and changes under us, and the retry strategy we import from
        // @smithy/core must match the clients' own @smithy packages. (README: "The AWS SDK on Lambda".)
        externalModules: [],
        // The SDK's ES module builds, which esbuild can tree-shake (its CommonJS builds cannot).
        mainFields: ['module', 'main'],
        logLevel: LogLevel.WARNING,
        ...(definition.bundleFiles ? { commandHooks: copyIntoBundle(definition.bundleFiles) } : {}),
      },
    });
    this.handlerName = props.handler;
  }
}

/**
 * Copies built files into a function's bundle after esbuild ran (the console's page and assets).
 * The build itself is `npm run build:console`, which cdk.json's `build` runs before every synth.
 */
function copyIntoBundle(files: { from: string; to: string }): ICommandHooks {
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir, outputDir) => [`cp -R "${path.join(inputDir, files.from)}" "${path.join(outputDir, files.to)}"`],
  };
}

/** The resources `FUNCTION_GRANTS` refers to. */
export interface GrantTargets {
  readonly table: dynamodb.ITable;
  readonly credentialsTable: dynamodb.ITable;
  readonly queues: Record<WorkQueueName, sqs.IQueue>;
  readonly adminSecret: secretsmanager.ISecret;
  /** The name of the usage plan new customer keys join. */
  readonly usagePlanName: string;
  /** The completion notices topic, and the API's URL their links start with. */
  readonly noticesTopic: sns.ITopic;
  readonly apiBaseUrl: string;
}

/**
 * Gives a function exactly what `FUNCTION_GRANTS` lists for it (one statement per resource,
 * explicit actions, no wildcard actions) and the environment variable naming each resource, so a
 * permission and its variable never drift apart.
 */
export function applyGrants(fn: ServiceFunction, targets: GrantTargets): void {
  const grants = FUNCTION_GRANTS[fn.handlerName];
  const allow = (actions: readonly string[], resources: string[]) =>
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...actions], resources }));
  if (grants.table) {
    allow(
      grants.table.actions.map((a) => `dynamodb:${a}`),
      [targets.table.tableArn],
    );
    if (grants.table.indexes) {
      allow(
        ['dynamodb:Query'],
        Object.values(TABLE.indexes).map((index) => `${targets.table.tableArn}/index/${index.name}`),
      );
    }
    fn.addEnvironment(ENV.tableName, targets.table.tableName);
  }
  if (grants.credentials) {
    allow(
      grants.credentials.map((a) => `dynamodb:${a}`),
      [targets.credentialsTable.tableArn],
    );
    fn.addEnvironment(ENV.credentialsTableName, targets.credentialsTable.tableName);
  }
  for (const [name, actions] of Object.entries(grants.queues ?? {}) as Array<[WorkQueueName, readonly QueueAction[]]>) {
    const queue = targets.queues[name];
    allow(
      actions.map((a) => `sqs:${a}`),
      [queue.queueArn],
    );
    fn.addEnvironment(QUEUES[name].urlEnv, queue.queueUrl);
  }
  if (grants.adminSecret) {
    allow(['secretsmanager:GetSecretValue'], [targets.adminSecret.secretArn]);
    fn.addEnvironment(ENV.adminSecretName, targets.adminSecret.secretName);
  }
  if (grants.notices) {
    allow(['sns:Publish'], [targets.noticesTopic.topicArn]);
    fn.addEnvironment(ENV.noticesTopicArn, targets.noticesTopic.topicArn);
    fn.addEnvironment(ENV.apiBaseUrl, targets.apiBaseUrl);
  }
  if (grants.usagePlanKeys) {
    const stack = Stack.of(fn);
    const apiGatewayArn = (path: string) => stack.formatArn({ service: 'apigateway', account: '', resource: path });
    // The plan is found by its name: its id cannot be referenced here without a dependency cycle
    // (function → plan → stage → deployment → method → function).
    allow(['apigateway:GET'], [apiGatewayArn('/usageplans')]);
    allow(['apigateway:POST'], [apiGatewayArn('/apikeys'), apiGatewayArn('/usageplans/*/keys')]);
    allow(['apigateway:DELETE'], [apiGatewayArn('/apikeys/*')]);
    fn.addEnvironment(ENV.usagePlanName, targets.usagePlanName);
  }
}

/**
 * Lambda's SQS event source `source` of `CONSUMERS` on `queue` for `fn`, with its batch size and
 * maximum concurrency and partial batch failures. The role gets what Lambda's poller needs and
 * nothing more (CDK's SqsEventSource would also grant GetQueueUrl and ChangeMessageVisibility,
 * which nothing here calls); the function gets the queue's URL, by which it tells which of its
 * queues a record came from (lambdas/adapters/sqs-records.ts).
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export function consumeQueue(fn: ServiceFunction, id: string, queue: sqs.IQueue, source: EventSourceName): lambda.EventSourceMapping {
  const consumer = CONSUMERS[source];
  if (consumer.fn !== fn.handlerName) throw new Error(`CONSUMERS has ${consumer.fn} consume ${source}, not ${fn.handlerName}`);
  fn.addEnvironment(urlEnvOf(source), queue.queueUrl);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
      resources: [queue.queueArn],
    }),
  );
  return fn.addEventSourceMapping(id, {
    eventSourceArn: queue.queueArn,
    batchSize: consumer.batchSize,
    ...(consumer.maxConcurrency !== undefined ? { maxConcurrency: consumer.maxConcurrency } : {}),
    // Without it one failed record makes the whole batch visible again.
    reportBatchItemFailures: true,
  });
}
