import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { DEAD_LETTER_VISIBILITY_TIMEOUT_SECONDS, FUNCTION_NAMES, FUNCTIONS } from '../lambdas/config/functions';
import { API_TIMEOUT_SECONDS, ENV, USAGE_LIMITS, type UsageLimits } from '../lambdas/config/resources';
import { type ApiFunctionName, ROUTES } from '../lambdas/config/routes';
import { acknowledgeFindings } from './acknowledgements';
import { QueueApi } from './constructs/api';
import { applyGrants, type FunctionDefaults, limitsEnvironment, type RuntimeLimits, ServiceFunction } from './constructs/functions';
import { Monitoring, type OldestMessageAlarmAges } from './constructs/monitoring';
import { WorkQueues } from './constructs/queues';
import { CredentialsTable, QueueTable } from './constructs/table';
import { Workers } from './constructs/workers';

/** Stack output names (`aws cloudformation describe-stacks` → Outputs[].OutputKey). */
export const OUTPUTS = {
  apiUrl: 'ApiUrl',
  tableName: 'TableName',
  credentialsTableName: 'CredentialsTableName',
  mainQueueUrl: 'MainQueueUrl',
  priorityQueueUrl: 'PriorityQueueUrl',
  tasksQueueUrl: 'TasksQueueUrl',
  adminSecretName: 'AdminSecretName',
  noticesTopicArn: 'NoticesTopicArn',
  alarmTopicArn: 'AlarmTopicArn',
} as const;

/**
 * One plain e-mail address (what an SNS `email` subscription takes): no display name, no list.
 * Deliberately loose beyond that; SNS sends a confirmation mail, which is the real check.
 */
export function isEmailAddress(value: string): boolean {
  return /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[A-Za-z]{2,}$/.test(value);
}

export interface ImageQueueStackProps extends StackProps {
  /**
   * Keep the table, queues, secret and log groups when the stack is deleted.
   * @default - true when the context `retain` is `true`, otherwise false (personal dev accounts)
   */
  readonly retain?: boolean;
  /**
   * Overrides of the limits handed to the functions.
   * @default - `DEFAULTS` from lambdas/config/resources.ts
   */
  readonly limits?: Partial<RuntimeLimits>;
  /**
   * X-Ray active tracing on every function.
   * @default false
   */
  readonly tracing?: boolean;
  /** @default 'prod' */
  readonly stageName?: string;
  /**
   * API stage steady-state rate limit, requests per second: a cap on the whole API, above the
   * per-key limits.
   * @default USAGE_LIMITS.stage.rateLimit (500)
   */
  readonly throttlingRateLimit?: number;
  /**
   * API stage burst limit.
   * @default USAGE_LIMITS.stage.burstLimit (1000)
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Rate, burst and quota of each customer key (API Gateway usage plan; every key gets its own
   * bucket and quota).
   * @default USAGE_LIMITS.customer (25 req/s, burst 50, 500,000 requests a day)
   */
  readonly customerKeyLimits?: UsageLimits;
  /**
   * Rate, burst and quota shared by admin keys.
   * @default USAGE_LIMITS.admin (100 req/s, burst 200, no quota)
   */
  readonly adminKeyLimits?: UsageLimits;
  /**
   * Origins allowed to call the API from a browser (CORS); e.g. `['https://portal.example.org']`.
   * @default - none: no cross-origin access
   */
  readonly corsAllowedOrigins?: string[];
  /**
   * Timeout of the API functions, at most 29 s (API Gateway gives up then anyway; recovery of
   * interrupted submits relies on it).
   * @default - their `FUNCTIONS` timeout (lambdas/config/functions.ts): API_TIMEOUT_SECONDS, 29 s
   */
  readonly apiTimeout?: Duration;
  /**
   * Memory of the API functions (submit parses and writes batches of up to `maxBatchSize`).
   * @default - their `FUNCTIONS` memory (lambdas/config/functions.ts): 1024
   */
  readonly apiMemoryMiB?: number;
  /**
   * Oldest-message age that raises an alarm, per queue.
   * @default - main 15 min, priority 2 min, tasks 15 min
   */
  readonly oldestMessageAlarmAges?: Partial<OldestMessageAlarmAges>;
  /**
   * An e-mail address subscribed to the alarm topic (SNS mails a confirmation link first; nothing
   * arrives until it is followed). The app sets it from `-c alarmEmail=ops@example.org`.
   * @default - none: subscribe to the `AlarmTopicArn` output yourself (e-mail, AWS Chatbot, HTTPS)
   */
  readonly alarmEmail?: string;
  /**
   * Further actions for every alarm when it fires, besides telling the alarm topic.
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
}

/** Whether the `retain` context asks to keep stateful resources (`-c retain=true`). */
function retainFromContext(scope: Construct): boolean {
  const value: unknown = scope.node.tryGetContext('retain');
  return value === true || value === 'true';
}

export class ImageQueueStack extends Stack {
  readonly table: QueueTable;
  readonly credentials: CredentialsTable;
  readonly queues: WorkQueues;
  readonly workers: Workers;
  readonly api: QueueApi;
  readonly adminSecret: secretsmanager.Secret;
  readonly apiFunctions: Record<ApiFunctionName, ServiceFunction>;
  readonly authorizerFunction: ServiceFunction;
  readonly noticesTopic: sns.Topic;
  /** Every alarm tells it when it fires and when it clears. */
  readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: ImageQueueStackProps = {}) {
    super(scope, id, props);
    // The submit replay window and the sweeper's staleness assume no API handler outlives this.
    if (props.apiTimeout && props.apiTimeout.toSeconds() > API_TIMEOUT_SECONDS) {
      throw new Error(`apiTimeout must be at most ${API_TIMEOUT_SECONDS} s (API Gateway's integration timeout)`);
    }
    if (props.alarmEmail !== undefined && !Token.isUnresolved(props.alarmEmail) && !isEmailAddress(props.alarmEmail)) {
      throw new Error(`alarmEmail must be one e-mail address such as ops@example.org; got "${props.alarmEmail}"`);
    }
    const removalPolicy = (props.retain ?? retainFromContext(this)) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // Timeout, memory and each function's own variables come from FUNCTIONS (ServiceFunction).
    const defaults: FunctionDefaults = {
      tracing: props.tracing ?? false,
      removalPolicy,
      environment: limitsEnvironment(props.limits),
    };

    this.table = new QueueTable(this, 'Data', { removalPolicy });
    const table = this.table.table;
    this.credentials = new CredentialsTable(this, 'Credentials', { removalPolicy });
    this.queues = new WorkQueues(this, 'Queues', {
      removalPolicy,
      deadLetterVisibilityTimeout: Duration.seconds(DEAD_LETTER_VISIBILITY_TIMEOUT_SECONDS),
    });
    const { main, priority, tasks } = this.queues.queues;

    // The admin credential: {"key":"admin","secret":"<40 letters and digits>"}.
    this.adminSecret = new secretsmanager.Secret(this, 'AdminCredential', {
      // A fixed name: CloudFormation deletes secrets without a recovery window, so redeploying
      // after a destroy does not collide, and the handlers get a plain name (no random suffix).
      secretName: `${this.stackName}/admin-credential`,
      description: 'Admin API credential of the image queue',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ key: 'admin' }),
        generateStringKey: 'secret',
        passwordLength: 40,
        excludePunctuation: true,
        includeSpace: false,
      },
      removalPolicy,
    });

    // One function per `fn` of ROUTES, with its FUNCTIONS settings (the stack props may narrow them).
    const apiFunctionNames = FUNCTION_NAMES.filter((name) => ROUTES.some((route) => route.fn === name)) as ApiFunctionName[];
    this.apiFunctions = Object.fromEntries(
      apiFunctionNames.map((name) => [
        name,
        new ServiceFunction(this, FUNCTIONS[name].id, {
          ...defaults,
          handler: name,
          timeout: props.apiTimeout,
          memoryMiB: props.apiMemoryMiB,
        }),
      ]),
    ) as Record<ApiFunctionName, ServiceFunction>;
    const apiKeys = this.apiFunctions['api-keys'];
    this.authorizerFunction = new ServiceFunction(this, FUNCTIONS.authorizer.id, { ...defaults, handler: 'authorizer' });

    this.workers = new Workers(this, 'Workers', { queues: this.queues, defaults });

    this.api = new QueueApi(this, 'Http', {
      functions: this.apiFunctions,
      authorizer: this.authorizerFunction,
      stageName: props.stageName,
      throttlingRateLimit: props.throttlingRateLimit,
      throttlingBurstLimit: props.throttlingBurstLimit,
      customerKeyLimits: props.customerKeyLimits ?? USAGE_LIMITS.customer,
      adminKeyLimits: props.adminKeyLimits ?? USAGE_LIMITS.admin,
      corsAllowedOrigins: props.corsAllowedOrigins ?? [],
    });
    this.authorizerFunction.addEnvironment(ENV.adminUsageKey, this.api.adminUsageKeyValue);

    // One message per finished batch (BatchCompletedNotification); subscribe e-mail, HTTPS or SQS.
    this.noticesTopic = new sns.Topic(this, 'Notices', {
      displayName: 'Image queue: batch completed',
      enforceSSL: true,
    });

    // Every function gets exactly what FUNCTION_GRANTS lists for it.
    const targets = {
      noticesTopic: this.noticesTopic,
      // Built from the API's id rather than its URL, which would make the functions depend on the
      // deployment (and so on the methods, which depend on the functions).
      apiBaseUrl: `https://${this.api.api.restApiId}.execute-api.${this.region}.${this.urlSuffix}/${props.stageName ?? 'prod'}`,
      table,
      credentialsTable: this.credentials.table,
      queues: { main: main.queue, priority: priority.queue, tasks: tasks.queue },
      adminSecret: this.adminSecret,
      usagePlanName: this.api.customerPlanName,
    };
    for (const fn of this.allFunctions()) applyGrants(fn, targets);
    if (props.corsAllowedOrigins && props.corsAllowedOrigins.length > 0) {
      for (const fn of Object.values(this.apiFunctions)) fn.addEnvironment(ENV.corsAllowedOrigins, props.corsAllowedOrigins.join(','));
    }

    // Named after the stack (two stacks in one account each have their own). CloudWatch publishes as
    // its service principal: the topic policy that enforceSSL creates replaces SNS's default one,
    // so without this statement every alarm action would fail with "not authorized".
    this.alarmTopic = new sns.Topic(this, 'Alarms', {
      topicName: `${this.stackName}-alarms`,
      displayName: `Image queue alarms (${this.stackName})`,
      enforceSSL: true,
    });
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisStack',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': this.account },
          ArnLike: {
            'aws:SourceArn': this.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: `${this.stackName}-*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    acknowledgeFindings({
      stack: this,
      api: this.api.api,
      keyFunctionPolicy: apiKeys.role ?? apiKeys,
      adminSecret: this.adminSecret,
    });

    new Monitoring(this, 'Monitoring', {
      queues: this.queues,
      api: this.api.api,
      processors: {
        ProcessMain: this.workers.processors.main,
        ProcessPriority: this.workers.processors.priority,
        RunTasks: this.workers.runTasks,
        RecordDeadLetters: this.workers.recordDeadLetters,
      },
      otherFunctions: {
        ...Object.fromEntries(Object.entries(this.apiFunctions)),
        authorizer: this.authorizerFunction,
        SweepEnqueueing: this.workers.sweepEnqueueing,
        SampleLoad: this.workers.sampleLoad,
      },
      oldestMessageAlarmAges: props.oldestMessageAlarmAges,
      alarmTopic: this.alarmTopic,
      alarmActions: props.alarmActions,
      dashboardName: `${this.stackName}-image-queue`,
    });

    new CfnOutput(this, OUTPUTS.apiUrl, { value: this.api.api.url, description: 'Base URL of the API (with stage)' });
    new CfnOutput(this, OUTPUTS.tableName, { value: table.tableName });
    new CfnOutput(this, OUTPUTS.credentialsTableName, { value: this.credentials.table.tableName });
    new CfnOutput(this, OUTPUTS.mainQueueUrl, { value: main.queue.queueUrl });
    new CfnOutput(this, OUTPUTS.priorityQueueUrl, { value: priority.queue.queueUrl });
    new CfnOutput(this, OUTPUTS.tasksQueueUrl, { value: tasks.queue.queueUrl });
    new CfnOutput(this, OUTPUTS.noticesTopicArn, {
      value: this.noticesTopic.topicArn,
      description:
        'Completion notices (one per finished batch); subscribe with: ' +
        'aws sns subscribe --topic-arn <this> --protocol email --notification-endpoint you@example.org',
    });
    new CfnOutput(this, OUTPUTS.alarmTopicArn, {
      value: this.alarmTopic.topicArn,
      description:
        'Every alarm (when it fires and when it clears); subscribe with: ' +
        'aws sns subscribe --topic-arn <this> --protocol email --notification-endpoint ops@example.org (then confirm the mail), ' +
        'or --protocol https, or an AWS Chatbot Slack/Teams channel',
    });
    new CfnOutput(this, OUTPUTS.adminSecretName, {
      value: this.adminSecret.secretName,
      description:
        `Admin credential; read it with: aws secretsmanager get-secret-value --secret-id ${this.stackName}/admin-credential --query ` +
        'SecretString --output text',
    });
  }

  /** Every function of the stack. */
  allFunctions(): ServiceFunction[] {
    return [...Object.values(this.apiFunctions), this.authorizerFunction, ...this.workers.functions];
  }
}
