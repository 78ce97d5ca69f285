/**
 * Infrastructure tests: the settings that matter (partial-batch failures, concurrency, visibility
 * timeouts, redrive, table settings, authorizers, 405s, error responses, least privilege, alarms),
 * not resource counts. Bundling is skipped through the `aws:cdk:bundling-stacks` context.
 */
import { App, type CfnElement, Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { CONSUMERS, FUNCTIONS, SCHEDULES } from '../../lambdas/config/functions';
import { DEAD_LETTER_RETENTION_DAYS, ENV, QUEUES, TABLE, type WorkQueueName } from '../../lambdas/config/resources';
import { allowedMethods, findRoute, ROUTES, withHead } from '../../lambdas/config/routes';
import { ImageQueueStack, type ImageQueueStackProps, OUTPUTS } from '../../lib/image-queue-stack';

type Json = Record<string, any>;

// ---- Prepare ------------------------------------------------------------------------------------

function synth(props: ImageQueueStackProps = {}, context: Record<string, unknown> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new ImageQueueStack(app, 'ImageQueue', props);
  const template = Template.fromStack(stack);
  return { stack, template, json: template.toJSON() as Json };
}

const { stack, template, json } = synth();
const resources = json.Resources as Record<string, Json>;

const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);

const ofType = (type: string): Array<[string, Json]> => Object.entries(resources).filter(([, r]) => r.Type === type);

/** Logical id behind a `{Ref}` or `{Fn::GetAtt}` value. */
function refId(value: unknown): string | undefined {
  const v = value as Json;
  if (typeof v?.Ref === 'string') return v.Ref;
  if (Array.isArray(v?.['Fn::GetAtt'])) return v['Fn::GetAtt'][0];
  return undefined;
}

/** Resource logical id → API path ('/customers/{customer}/queue'). */
function resourcePaths(): Map<string, string> {
  const apiResources = new Map(ofType('AWS::ApiGateway::Resource'));
  const paths = new Map<string, string>();
  const pathOf = (id: string): string => {
    const known = paths.get(id);
    if (known) return known;
    const r = apiResources.get(id)!;
    const parent = refId(r.Properties.ParentId);
    const parentPath = parent && apiResources.has(parent) ? pathOf(parent) : '';
    const path = `${parentPath}/${r.Properties.PathPart}`;
    paths.set(id, path);
    return path;
  };
  for (const id of apiResources.keys()) pathOf(id);
  return paths;
}

const queueIds = (name: WorkQueueName) => ({
  queue: logicalId(stack.queues.queues[name].queue),
  dlq: logicalId(stack.queues.queues[name].deadLetterQueue),
});

const consumerOf: Record<WorkQueueName, () => lambda.IFunction> = {
  main: () => stack.workers.processors.main,
  priority: () => stack.workers.processors.priority,
  tasks: () => stack.workers.runTasks,
};

// ---- Assess -------------------------------------------------------------------------------------

describe('SQS event sources', () => {
  const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties as Json);
  const mappingFor = (queueLogicalId: string) => mappings.filter((m) => refId(m.EventSourceArn) === queueLogicalId);

  it.each(Object.keys(QUEUES) as WorkQueueName[])('%s queue: partial failures, concurrency and batch size from CONSUMERS', (name) => {
    const found = mappingFor(queueIds(name).queue);
    expect(found).toHaveLength(1);
    const mapping = found[0]!;
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.ScalingConfig).toEqual({ MaximumConcurrency: CONSUMERS[name].maxConcurrency });
    expect(mapping.BatchSize).toBe(CONSUMERS[name].batchSize);
    expect(refId(mapping.FunctionName)).toBe(logicalId(consumerOf[name]()));
  });

  // The tasks dead-letter queue has no consumer (test/infra/monitoring.test.ts).
  it.each(['main', 'priority'] as WorkQueueName[])('%s dead-letter queue is consumed by record-dead-letters', (name) => {
    const found = mappingFor(queueIds(name).dlq);
    expect(found).toHaveLength(1);
    expect(found[0]!.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(found[0]!.BatchSize).toBe(CONSUMERS[`${name as 'main' | 'priority'}-dlq`].batchSize);
    expect(refId(found[0]!.FunctionName)).toBe(logicalId(stack.workers.recordDeadLetters));
  });

  it('processor timeout and memory come from FUNCTIONS', () => {
    for (const name of Object.keys(QUEUES) as WorkQueueName[]) {
      const fn = resources[logicalId(consumerOf[name]())]!.Properties;
      expect(fn.Timeout).toBe(FUNCTIONS[CONSUMERS[name].fn].timeoutSeconds);
      expect(fn.MemorySize).toBe(FUNCTIONS[CONSUMERS[name].fn].memoryMiB);
    }
  });

  it("every queue's visibility timeout is at least 6 x its consumer's timeout", () => {
    expect(mappings.length).toBeGreaterThan(0);
    for (const mapping of mappings) {
      const queue = resources[refId(mapping.EventSourceArn)!]!.Properties;
      const fn = resources[refId(mapping.FunctionName)!]!.Properties;
      expect(typeof queue.VisibilityTimeout).toBe('number');
      expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Timeout);
    }
  });
});

describe('queues', () => {
  it('every work queue redrives to its own dead-letter queue after 3 to 5 receives', () => {
    for (const name of Object.keys(QUEUES) as WorkQueueName[]) {
      const { queue, dlq } = queueIds(name);
      const redrive = resources[queue]!.Properties.RedrivePolicy;
      expect(redrive.maxReceiveCount).toBe(QUEUES[name].maxReceiveCount);
      expect(redrive.maxReceiveCount).toBeGreaterThanOrEqual(3);
      expect(redrive.maxReceiveCount).toBeLessThanOrEqual(5);
      expect(refId(redrive.deadLetterTargetArn)).toBe(dlq);
      expect(resources[dlq]!.Properties.MessageRetentionPeriod).toBe(Duration.days(DEAD_LETTER_RETENTION_DAYS).toSeconds());
    }
  });

  it('every queue without a redrive policy is a dead-letter queue', () => {
    const targets = new Set(
      ofType('AWS::SQS::Queue')
        .map(([, q]) => q.Properties.RedrivePolicy?.deadLetterTargetArn)
        .filter(Boolean)
        .map(refId),
    );
    for (const [id, q] of ofType('AWS::SQS::Queue')) {
      if (!q.Properties.RedrivePolicy) expect(targets.has(id)).toBe(true);
    }
  });

  it('every queue is encrypted and refuses plain HTTP', () => {
    for (const [id, q] of ofType('AWS::SQS::Queue')) {
      expect(q.Properties.SqsManagedSseEnabled).toBe(true);
      const policies = ofType('AWS::SQS::QueuePolicy').filter(([, p]) => (p.Properties.Queues as unknown[]).some((r) => refId(r) === id));
      const statements = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });
});

describe('table', () => {
  it('is on-demand with PITR, TTL and the keys from TABLE', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
    });
  });

  it('has every index of TABLE, each KEYS_ONLY', () => {
    const [, table] = ofType('AWS::DynamoDB::Table')[0]!;
    const indexes = table.Properties.GlobalSecondaryIndexes as Json[];
    expect(indexes.map((i) => i.IndexName).sort()).toEqual(
      Object.values(TABLE.indexes)
        .map((i) => i.name)
        .sort(),
    );
    for (const index of indexes) {
      const def = Object.values(TABLE.indexes).find((i) => i.name === index.IndexName)!;
      expect(index.Projection).toEqual({ ProjectionType: 'KEYS_ONLY' });
      expect(index.KeySchema).toEqual([
        { AttributeName: def.partitionKey, KeyType: 'HASH' },
        { AttributeName: def.sortKey, KeyType: 'RANGE' },
      ]);
    }
  });

  it('is destroyed with the stack by default and retained with context retain=true', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    synth({}, { retain: 'true' }).template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
  });
});

describe('API', () => {
  const methods = ofType('AWS::ApiGateway::Method').map(([, m]) => m.Properties as Json);
  const paths = resourcePaths();
  const pathOf = (m: Json): string => paths.get(refId(m.ResourceId)!) ?? '/';
  const authorizerId = logicalId(stack.api.authorizer);

  it('has a TOKEN authorizer on the Authorization header whose results are never cached (revocation counts at once)', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'TOKEN',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 0,
    });
  });

  it('has one Lambda proxy method per route, to the function named by the route', () => {
    for (const route of ROUTES) {
      const found = methods.filter((m) => m.HttpMethod === route.method && pathOf(m) === route.resource);
      expect(found).toHaveLength(1);
      expect(found[0]!.Integration.Type).toBe('AWS_PROXY');
      const uri = JSON.stringify(found[0]!.Integration.Uri);
      expect(uri).toContain(logicalId(stack.apiFunctions[route.fn]));
    }
  });

  it('attaches the authorizer to every route except the public ones and the 405 mocks', () => {
    for (const m of methods) {
      if (m.HttpMethod === 'ANY') {
        expect(m.AuthorizationType).toBe('NONE');
        continue;
      }
      // HEAD is served by the GET route's function, with the same authorizer.
      const route = findRoute(m.HttpMethod === 'HEAD' ? 'GET' : m.HttpMethod, pathOf(m));
      expect(route).toBeDefined();
      if (route!.access === 'public') {
        expect(m.AuthorizationType).toBe('NONE');
        expect(m.AuthorizerId).toBeUndefined();
      } else {
        expect(m.AuthorizationType).toBe('CUSTOM');
        expect(refId(m.AuthorizerId)).toBe(authorizerId);
      }
    }
    expect(findRoute('GET', '/queue')?.access).toBe('public');
  });

  it.each([...allowedMethods()])('%s answers 405 with Allow and a JSON error body for other methods', (path, allowed) => {
    const found = methods.filter((m) => m.HttpMethod === 'ANY' && pathOf(m) === path);
    expect(found).toHaveLength(1);
    const integration = found[0]!.Integration;
    expect(integration.Type).toBe('MOCK');
    expect(JSON.parse(integration.RequestTemplates['application/json'])).toEqual({ statusCode: 405 });
    const response = integration.IntegrationResponses[0];
    expect(response.StatusCode).toBe('405');
    expect(response.ResponseParameters['method.response.header.Allow']).toBe(`'${withHead(allowed).join(', ')}'`);
    const body = JSON.parse(response.ResponseTemplates['application/json']);
    expect(body).toMatchObject({ '@type': 'Error', statusCode: 405, title: 'Method Not Allowed' });
    expect(found[0]!.MethodResponses).toContainEqual(expect.objectContaining({ StatusCode: '405' }));
  });

  it.each([
    ['UNAUTHORIZED', '401'],
    ['ACCESS_DENIED', '403'],
    ['MISSING_AUTHENTICATION_TOKEN', '404'],
  ])('gateway response %s answers %s with a JSON error body', (type, status) => {
    const found = ofType('AWS::ApiGateway::GatewayResponse').filter(([, r]) => r.Properties.ResponseType === type);
    expect(found).toHaveLength(1);
    const props = found[0]![1].Properties;
    expect(props.StatusCode).toBe(status);
    expect(props.ResponseParameters['gatewayresponse.header.Content-Type']).toBe("'application/json'");
    expect(JSON.parse(props.ResponseTemplates['application/json'])).toMatchObject({
      '@type': 'Error',
      statusCode: Number(status),
    });
  });

  it('401 carries WWW-Authenticate for Basic and Bearer', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'UNAUTHORIZED',
      ResponseParameters: Match.objectLike({
        'gatewayresponse.header.WWW-Authenticate': `'Basic realm="image-queue", Bearer'`,
      }),
    });
  });

  it('default 4xx/5xx responses are JSON too', () => {
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"@type":"Error"') },
      });
    }
  });

  it('throttles the stage and, apart, the public GET /queue (defaults and overrides)', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([
        Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 }),
        Match.objectLike({ HttpMethod: 'GET', ResourcePath: '/~1queue', ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 }),
      ]),
    });
    synth({ throttlingRateLimit: 5, throttlingBurstLimit: 7 }).template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([Match.objectLike({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 7 })]),
    });
  });
});

describe('admin secret', () => {
  it('is generated as {"key":"admin","secret":<40 chars, no punctuation>}', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        SecretStringTemplate: JSON.stringify({ key: 'admin' }),
        GenerateStringKey: 'secret',
        PasswordLength: 40,
        ExcludePunctuation: true,
      },
    });
  });
});

describe('functions', () => {
  const functions = ofType('AWS::Lambda::Function').map(([, f]) => f.Properties as Json);

  it('every function runs nodejs22.x on arm64, without --enable-source-maps, with its own log group', () => {
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      expect(fn.Runtime).toBe('nodejs22.x');
      expect(fn.Architectures).toEqual(['arm64']);
      // It would parse index.js.map at every cold start; the logger reads the map on an error instead.
      expect(fn.Environment.Variables.NODE_OPTIONS).toBeUndefined();
      expect(fn.LoggingConfig.LogGroup).toBeDefined();
    }
    for (const [, group] of ofType('AWS::Logs::LogGroup')) expect(group.Properties.RetentionInDays).toBe(30);
  });

  it('every function gets the limits and never allows private origins; the processors say so', () => {
    for (const fn of functions) {
      const env = fn.Environment.Variables;
      expect(env[ENV.allowPrivateOrigins]).not.toBe('true');
      expect(env[ENV.maxBatchSize]).toBeDefined();
    }
    for (const fn of Object.values(stack.workers.processors)) {
      expect(resources[logicalId(fn)]!.Properties.Environment.Variables[ENV.allowPrivateOrigins]).toBe('false');
    }
    const overridden = synth({ limits: { maxBatchSize: 7 } }).json.Resources as Record<string, Json>;
    const values = Object.values(overridden)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => r.Properties.Environment.Variables[ENV.maxBatchSize]);
    expect(new Set(values)).toEqual(new Set(['7']));
  });

  it('runs the scheduled jobs at the SCHEDULES rates', () => {
    const rules = ofType('AWS::Events::Rule').map(([, r]) => r.Properties as Json);
    const ruleFor = (fn: lambda.IFunction) => rules.find((r) => (r.Targets as Json[]).some((t) => refId(t.Arn) === logicalId(fn)));
    const rate = (minutes: number) => `rate(${minutes} minute${minutes === 1 ? '' : 's'})`;
    expect(ruleFor(stack.workers.sweepEnqueueing)?.ScheduleExpression).toBe(rate(SCHEDULES.sweepEnqueueing.everyMinutes));
    expect(ruleFor(stack.workers.sampleLoad)?.ScheduleExpression).toBe(rate(SCHEDULES.sampleLoad.everyMinutes));
  });
});

describe('monitoring', () => {
  const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties as Json);
  const alarmOn = (metric: string, dimension: { Name: string; id: string }) =>
    alarms.filter(
      (a) => a.MetricName === metric && (a.Dimensions as Json[]).some((d) => d.Name === dimension.Name && refId(d.Value) === dimension.id),
    );

  // The member dead-letter queues alarm on dead letters left unrecorded (test/infra/monitoring.test.ts).
  it.each(['tasks'] as WorkQueueName[])('%s dead-letter queue alarms on one visible message', (name) => {
    const found = alarmOn('ApproximateNumberOfMessagesVisible', { Name: 'QueueName', id: queueIds(name).dlq });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  it.each([
    ['main', 15 * 60],
    ['priority', 2 * 60],
    ['tasks', 15 * 60],
  ] as Array<[WorkQueueName, number]>)('%s queue alarms when its oldest message is %i s old', (name, seconds) => {
    const found = alarmOn('ApproximateAgeOfOldestMessage', { Name: 'QueueName', id: queueIds(name).queue });
    expect(found).toHaveLength(1);
    expect(found[0]!.Threshold).toBe(seconds);
  });

  it('each processor alarms on errors', () => {
    for (const fn of [stack.workers.processors.main, stack.workers.processors.priority, stack.workers.runTasks]) {
      const found = alarmOn('Errors', { Name: 'FunctionName', id: logicalId(fn) });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ Threshold: 1, Period: 300 });
    }
  });

  it('has a dashboard with queue depth, processing rate, errors and API latency', () => {
    const [, dashboard] = ofType('AWS::CloudWatch::Dashboard')[0]!;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const metric of [
      'ApproximateNumberOfMessagesVisible',
      'ApproximateNumberOfMessagesNotVisible',
      'NumberOfMessagesDeleted',
      'Errors',
      'Latency',
      '4XXError',
      '5XXError',
      'p99',
    ]) {
      expect(body).toContain(metric);
    }
  });
});

describe('outputs', () => {
  it('exports the names other tools read', () => {
    for (const name of Object.values(OUTPUTS)) expect(json.Outputs[name]).toBeDefined();
    expect(json.Outputs[OUTPUTS.adminSecretName].Description).toContain('aws secretsmanager get-secret-value --secret-id');
  });
});

describe('API timeout', () => {
  it('refuses an API timeout beyond API Gateway’s 29 s, which the recovery of interrupted submits relies on', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    expect(() => new ImageQueueStack(app, 'TooSlow', { apiTimeout: Duration.seconds(60) })).toThrow(/at most 29 s/);
  });
});
