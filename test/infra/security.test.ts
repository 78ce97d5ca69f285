/**
 * Security and per-key limits as they live in the template: each function's IAM statements are
 * exactly what FUNCTION_GRANTS lists (plus its log group and, for consumers, what Lambda's poller
 * needs); the credentials table is out of reach of everything but the authorizer and the key
 * routes; usage plans meter every keyed method per key; names derive from the stack; and the
 * cdk-nag AwsSolutions pack finds nothing that is not acknowledged with a reason.
 */
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { FunctionName } from '../../lambdas/config/functions';
import { FUNCTION_GRANTS } from '../../lambdas/config/grants';
import { ENV, TABLE, USAGE_LIMITS, type WorkQueueName } from '../../lambdas/config/resources';
import { ROUTES } from '../../lambdas/config/routes';
import type { ServiceFunction } from '../../lib/constructs/functions';
import { ImageQueueStack, type ImageQueueStackProps } from '../../lib/image-queue-stack';

type Json = Record<string, any>;

function synth(id = 'ImageQueue', props: ImageQueueStackProps = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ImageQueueStack(app, id, props);
  const template = Template.fromStack(stack);
  return { app, stack, template, resources: template.toJSON().Resources as Record<string, Json> };
}

const { stack, template, resources } = synth();
const logicalIdOf = (construct: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(construct.node.defaultChild as never);
const refId = (v: Json | undefined): string | undefined => v?.Ref ?? v?.['Fn::GetAtt']?.[0];

/** `action resource` pairs allowed to a function's role, resources rendered as logical ids. */
function allowedOf(fn: ServiceFunction): string[] {
  const roleId = refId(resources[logicalIdOf(fn)]!.Properties.Role);
  const render = (r: unknown): string => JSON.stringify(r).replace(/"/g, '');
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as Json[]).some((role) => refId(role) === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
    .flatMap((s) => {
      expect(s.Effect).toBe('Allow');
      const actions = ([] as string[]).concat(s.Action);
      const targets = ([] as unknown[]).concat(s.Resource).map(render);
      return actions.flatMap((a) => targets.map((t) => `${a} ${t}`));
    });
}

const functions = stack.allFunctions();
const ids = {
  table: logicalIdOf(stack.table.table),
  credentials: logicalIdOf(stack.credentials.table),
  secret: logicalIdOf(stack.adminSecret),
  queue: (q: WorkQueueName) => logicalIdOf(stack.queues.queues[q].queue),
  notices: logicalIdOf(stack.noticesTopic),
};

describe('least privilege', () => {
  it('gives every function exactly the data-plane actions of FUNCTION_GRANTS', () => {
    for (const fn of functions) {
      const grants = FUNCTION_GRANTS[fn.handlerName as FunctionName];
      const allowed = allowedOf(fn).filter(
        (a) =>
          /^(dynamodb|secretsmanager|apigateway|sns):/.test(a) ||
          /^sqs:SendMessage|^sqs:GetQueueAttributes|^sqs:ChangeMessageVisibility/.test(a),
      );
      const expected: string[] = [
        ...(grants.table?.actions ?? []).map((a) => `dynamodb:${a} {Fn::GetAtt:[${ids.table},Arn]}`),
        ...(grants.table?.indexes
          ? Object.values(TABLE.indexes).map((i) => `dynamodb:Query {Fn::Join:[,[{Fn::GetAtt:[${ids.table},Arn]},/index/${i.name}]]}`)
          : []),
        ...(grants.credentials ?? []).map((a) => `dynamodb:${a} {Fn::GetAtt:[${ids.credentials},Arn]}`),
        ...Object.entries(grants.queues ?? {}).flatMap(([q, actions]) =>
          (actions ?? []).map((a) => `sqs:${a} {Fn::GetAtt:[${ids.queue(q as WorkQueueName)},Arn]}`),
        ),
        ...(grants.adminSecret ? [`secretsmanager:GetSecretValue {Ref:${ids.secret}}`] : []),
        ...(grants.notices ? [`sns:Publish {Ref:${ids.notices}}`] : []),
      ];
      const consumer = allowedOf(fn).filter((a) => a.startsWith('sqs:GetQueueAttributes') && !expected.includes(a));
      const unexpected = allowed.filter((a) => !expected.includes(a) && !consumer.includes(a) && !a.startsWith('apigateway:'));
      expect([fn.handlerName, unexpected]).toEqual([fn.handlerName, []]);
      expect([fn.handlerName, expected.filter((e) => !allowed.includes(e))]).toEqual([fn.handlerName, []]);
      expect(allowed.some((a) => a.startsWith('apigateway:'))).toBe(grants.usagePlanKeys === true);
    }
  });

  it('grants no wildcard action, no Scan, DescribeTable or stream read, no GetQueueUrl', () => {
    for (const fn of functions) {
      for (const entry of allowedOf(fn)) {
        const action = entry.split(' ')[0]!;
        expect([fn.handlerName, action]).not.toEqual([
          fn.handlerName,
          expect.stringMatching(/\*|Scan|DescribeTable|GetRecords|GetShardIterator|DescribeStream|ListStreams|GetQueueUrl/),
        ]);
      }
    }
  });

  it('keeps the credentials table out of reach of everything but the authorizer and the key routes', () => {
    for (const fn of functions) {
      const touches = allowedOf(fn).some((a) => a.includes(ids.credentials));
      expect([fn.handlerName, touches]).toEqual([fn.handlerName, ['authorizer', 'api-keys'].includes(fn.handlerName)]);
    }
  });

  it('lets the processors, which parse untrusted content, neither put nor delete an item', () => {
    for (const fn of [stack.workers.processors.main, stack.workers.processors.priority, stack.workers.recordDeadLetters]) {
      const actions = allowedOf(fn).map((a) => a.split(' ')[0]);
      for (const write of ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) expect(actions).not.toContain(write);
    }
  });

  it('lets each function write to its own log group only, with no AWS managed policy', () => {
    for (const fn of functions) {
      const role = resources[refId(resources[logicalIdOf(fn)]!.Properties.Role)!]!;
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      const logs = allowedOf(fn).filter((a) => a.startsWith('logs:'));
      const logGroup = refId(resources[logicalIdOf(fn)]!.Properties.LoggingConfig.LogGroup);
      expect(logs.length).toBe(2);
      for (const entry of logs) expect(entry).toContain(logGroup);
    }
  });

  it('gives the queue consumers what Lambda’s poller needs on their own queue only', () => {
    const consumers: Array<[ServiceFunction, WorkQueueName]> = [
      [stack.workers.processors.main, 'main'],
      [stack.workers.processors.priority, 'priority'],
      [stack.workers.runTasks, 'tasks'],
    ];
    for (const [fn, queue] of consumers) {
      const sqs = allowedOf(fn).filter((a) => a.startsWith('sqs:'));
      // What the function itself calls (FUNCTION_GRANTS), e.g. the processors' short retry delays.
      const own = Object.entries(FUNCTION_GRANTS[fn.handlerName as FunctionName].queues ?? {}).flatMap(([q, actions]) =>
        (actions ?? []).map((a) => `sqs:${a} {Fn::GetAtt:[${ids.queue(q as WorkQueueName)},Arn]}`),
      );
      expect(sqs.sort()).toEqual(
        [
          ...['sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'].map(
            (a) => `${a} {Fn::GetAtt:[${ids.queue(queue)},Arn]}`,
          ),
          ...own,
        ].sort(),
      );
    }
  });
});

describe('keys, privileges and per-key limits', () => {
  it('never caches authorizer results and takes the usage key from the authorizer', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 0 });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'AUTHORIZER' });
  });

  it('requires the (authorizer-supplied) API key on every keyed method, on no public one', () => {
    const methods = Object.values(resources)
      .filter((r) => r.Type === 'AWS::ApiGateway::Method')
      .map((r) => r.Properties as Json);
    const keyed = methods.filter((m) => m.AuthorizationType === 'CUSTOM');
    // Every keyed GET also has a HEAD method (same function, same authorizer).
    const keyedRoutes = ROUTES.filter((r) => r.access !== 'public');
    expect(keyed).toHaveLength(keyedRoutes.length + keyedRoutes.filter((r) => r.method === 'GET').length);
    for (const m of keyed) expect(m.ApiKeyRequired).toBe(true);
    for (const m of methods.filter((m) => m.AuthorizationType === 'NONE')) expect(m.ApiKeyRequired).not.toBe(true);
  });

  it('has a customer-key plan and an admin plan with the configured limits, named after the stack', () => {
    const { customer, admin } = USAGE_LIMITS;
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      UsagePlanName: 'ImageQueue-customer-keys',
      Throttle: { RateLimit: customer.rateLimit, BurstLimit: customer.burstLimit },
      Quota: { Limit: customer.quota.limit, Period: customer.quota.period },
    });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      UsagePlanName: 'ImageQueue-admin-keys',
      Throttle: { RateLimit: admin.rateLimit, BurstLimit: admin.burstLimit },
    });
    const custom = synth('ImageQueue', { customerKeyLimits: { rateLimit: 3, burstLimit: 4, quota: { limit: 9, period: 'MONTH' } } });
    custom.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      UsagePlanName: 'ImageQueue-customer-keys',
      Throttle: { RateLimit: 3, BurstLimit: 4 },
      Quota: { Limit: 9, Period: 'MONTH' },
    });
  });

  it('meters admin keys by an API key in the admin plan whose value the authorizer knows', () => {
    const [apiKey] = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGateway::ApiKey');
    const value = apiKey!.Properties.Value as string;
    expect(value.length).toBeGreaterThanOrEqual(20);
    const authorizerEnv = resources[logicalIdOf(stack.authorizerFunction)]!.Properties.Environment.Variables;
    expect(authorizerEnv[ENV.adminUsageKey]).toBe(value);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', {
      KeyType: 'API_KEY',
      UsagePlanId: { Ref: logicalIdOf(stack.api.adminPlan) },
    });
  });

  it('tells api-keys which plan new keys join, by name', () => {
    const env = resources[logicalIdOf(stack.apiFunctions['api-keys'])]!.Properties.Environment.Variables;
    expect(env[ENV.usagePlanName]).toBe('ImageQueue-customer-keys');
  });

  it('answers 403 with the authorizer’s reason, and 429 for throttling and spent quotas', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'ACCESS_DENIED',
      StatusCode: '403',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('\\$context\\.authorizer\\.denied') },
    });
    for (const type of ['THROTTLED', 'QUOTA_EXCEEDED']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: type, StatusCode: '429' });
    }
  });
});

describe('two stacks in one account', () => {
  it('derives every name from the stack name', () => {
    const dev = synth('ImageQueue-dev');
    const names = (r: Record<string, Json>, type: string, property: string) =>
      Object.values(r)
        .filter((x) => x.Type === type)
        .map((x) => JSON.stringify(x.Properties[property]));
    for (const [type, property] of [
      ['AWS::ApiGateway::RestApi', 'Name'],
      ['AWS::ApiGateway::UsagePlan', 'UsagePlanName'],
      ['AWS::ApiGateway::ApiKey', 'Name'],
      ['AWS::SecretsManager::Secret', 'Name'],
      ['AWS::CloudWatch::Alarm', 'AlarmName'],
      ['AWS::CloudWatch::Dashboard', 'DashboardName'],
    ] as const) {
      const prod = names(resources, type, property);
      const other = names(dev.resources, type, property);
      expect([type, prod.length > 0]).toEqual([type, true]);
      for (const name of other) expect([type, prod.includes(name)]).toEqual([type, false]);
      for (const name of other) expect(name).toContain('ImageQueue-dev');
    }
  });

  it('allows CORS origins only when given', () => {
    expect(Object.values(resources).some((r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.HttpMethod === 'OPTIONS')).toBe(false);
    const withCors = synth('ImageQueue', { corsAllowedOrigins: ['https://portal.example.org'] });
    const options = Object.values(withCors.resources).filter(
      (r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.HttpMethod === 'OPTIONS',
    );
    expect(options.length).toBeGreaterThan(0);
    expect(JSON.stringify(options[0])).toContain('https://portal.example.org');
    const env =
      withCors.resources[withCors.stack.getLogicalId(withCors.stack.apiFunctions['api-read'].node.defaultChild as never)]!.Properties
        .Environment.Variables;
    expect(env[ENV.corsAllowedOrigins]).toBe('https://portal.example.org');
  });
});

describe('cdk-nag AwsSolutions', () => {
  /** A stack not synthesised yet (the rule pack runs at the app's one synthesis). */
  function unsynthesised() {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    return { app, stack: new ImageQueueStack(app, 'ImageQueue') };
  }

  it('finds nothing that is not acknowledged with a reason', () => {
    const { app } = unsynthesised();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('does fail on a finding nobody acknowledged (the check is live)', () => {
    const { app, stack: target } = unsynthesised();
    new iam.Policy(target, 'TooBroad', {
      statements: [new iam.PolicyStatement({ actions: ['dynamodb:*'], resources: ['*'] })],
      roles: [target.authorizerFunction.role!],
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5/);
  });
});
