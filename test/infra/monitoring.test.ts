/**
 * Infrastructure tests for alarms that can fire (issue 11, items 6 and 8): redrive after at least 5
 * receives, alarms on the custom metrics with exactly the namespace, name and dimensions the
 * handlers emit (lambdas/config/metrics.ts), oldest-message alarms on the work queues, a tasks
 * dead-letter queue that nothing consumes (and that alarms), alarm names that start with the
 * stack name so that two stacks can share an account, and alarms that reach someone (issue 21):
 * every alarm tells its stack's alarm topic when it fires and when it clears, `alarmEmail` (prop or
 * `-c alarmEmail`) subscribes an address, and the topic's ARN is an output. Bundling is skipped as
 * in stack.test.ts.
 */
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ALARMED_ORIGIN_FAILURE_KINDS, METRICS, ORIGIN_FAILURE_KINDS } from '../../lambdas/config/metrics';
import { QUEUES, type WorkQueueName } from '../../lambdas/config/resources';
import { stackFromContext } from '../../lib/app';
import { DEFAULT_ORIGIN_FAILURE_ALARM_THRESHOLD } from '../../lib/constructs/monitoring';
import { ImageQueueStack, type ImageQueueStackProps, OUTPUTS } from '../../lib/image-queue-stack';

type Json = Record<string, any>;

// ---- Prepare ------------------------------------------------------------------------------------

const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
/** Two stacks in one app, as `-c stage=dev` would deploy next to production in one account. */
const app = new App({ context: NO_BUNDLING });
const stacks = [new ImageQueueStack(app, 'ImageQueue'), new ImageQueueStack(app, 'ImageQueue-dev')];
const [stack] = stacks as [ImageQueueStack, ImageQueueStack];
const resourcesOf = (s: ImageQueueStack) => Template.fromStack(s).toJSON().Resources as Record<string, Json>;
const resources = resourcesOf(stack);

const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);
const ofType = (type: string, from = resources): Json[] =>
  Object.values(from)
    .filter((r) => r.Type === type)
    .map((r) => r.Properties as Json);
/** Logical id behind a `{Ref}` or `{Fn::GetAtt}` value. */
const refId = (value: any): string | undefined => value?.Ref ?? (Array.isArray(value?.['Fn::GetAtt']) ? value['Fn::GetAtt'][0] : undefined);

const WORK_QUEUES = Object.keys(QUEUES) as WorkQueueName[];
const queueIds = (name: WorkQueueName) => ({
  queue: logicalId(stack.queues.queues[name].queue),
  dlq: logicalId(stack.queues.queues[name].deadLetterQueue),
});

const alarms = ofType('AWS::CloudWatch::Alarm');
const serviceDimension = { Name: METRICS.serviceDimension, Value: stack.stackName };

/** Alarms on one plain metric (not metric math). */
const alarmsOn = (metricName: string) => alarms.filter((a) => a.MetricName === metricName);
/** The metrics (with their ids) a metric-math alarm reads. */
const mathInputs = (alarm: Json): Array<{ id: string; metric: Json; stat: string; period: number }> =>
  (alarm.Metrics as Json[])
    .filter((m) => m.MetricStat)
    .map((m) => ({ id: m.Id, metric: m.MetricStat.Metric, stat: m.MetricStat.Stat, period: m.MetricStat.Period }));

// ---- Assess -------------------------------------------------------------------------------------

describe('redrive', () => {
  it.each(WORK_QUEUES)('%s queue goes to its dead-letter queue only after at least 5 receives', (name) => {
    const { queue, dlq } = queueIds(name);
    const redrive = resources[queue]!.Properties.RedrivePolicy;
    expect(redrive.maxReceiveCount).toBeGreaterThanOrEqual(5);
    expect(redrive.maxReceiveCount).toBe(QUEUES[name].maxReceiveCount);
    expect(refId(redrive.deadLetterTargetArn)).toBe(dlq);
  });
});

describe('dead-letter consumers', () => {
  const mappings = ofType('AWS::Lambda::EventSourceMapping');
  const consumersOf = (queueLogicalId: string) => mappings.filter((m) => refId(m.EventSourceArn) === queueLogicalId);

  it('the tasks dead-letter queue has no event source mapping: its messages stay to be inspected and redriven', () => {
    expect(consumersOf(queueIds('tasks').dlq)).toEqual([]);
  });

  it.each(['main', 'priority'] as WorkQueueName[])('the %s dead-letter queue is still recorded by record-dead-letters', (name) => {
    const found = consumersOf(queueIds(name).dlq);
    expect(found.map((m) => refId(m.FunctionName))).toEqual([logicalId(stack.workers.recordDeadLetters)]);
  });
});

describe('metrics the handlers emit', () => {
  it.each([
    ['process-main', () => stack.workers.processors.main],
    ['process-priority', () => stack.workers.processors.priority],
    ['record-dead-letters', () => stack.workers.recordDeadLetters],
  ] as Array<[string, () => lambda.IFunction]>)('%s tags its metrics with the stack name, the dimension the alarms use', (_, fn) => {
    const variables = resources[logicalId(fn())]!.Properties.Environment.Variables;
    expect(variables[METRICS.serviceEnv]).toBe(stack.stackName);
  });
});

describe('alarms on custom metrics', () => {
  it('ImagesDeadLettered >= 1 in 5 minutes, in the namespace and with the dimensions the recorder emits', () => {
    const found = alarmsOn(METRICS.names.imagesDeadLettered);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      Namespace: METRICS.namespace,
      Dimensions: [serviceDimension],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('OriginFailures alarms on the sum of the alarmed kinds, each read with the dimensions the processor emits', () => {
    const found = alarms.filter((a) =>
      (a.Metrics as Json[] | undefined)?.some((m) => m.MetricStat?.Metric.MetricName === METRICS.names.originFailures),
    );
    expect(found).toHaveLength(1);
    const alarm = found[0]!;
    expect(alarm).toMatchObject({
      Threshold: DEFAULT_ORIGIN_FAILURE_ALARM_THRESHOLD,
      EvaluationPeriods: 3,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    const inputs = mathInputs(alarm);
    expect(inputs.map((i) => i.metric.Dimensions.find((d: Json) => d.Name === METRICS.failureKindDimension).Value).sort()).toEqual(
      [...ALARMED_ORIGIN_FAILURE_KINDS].sort(),
    );
    for (const input of inputs) {
      expect(input.metric).toMatchObject({ Namespace: METRICS.namespace, MetricName: METRICS.names.originFailures });
      expect(input.metric.Dimensions).toEqual(expect.arrayContaining([serviceDimension]));
      expect(input.metric.Dimensions).toHaveLength(2);
      expect(input).toMatchObject({ stat: 'Sum', period: 300 });
    }
    // The expression reads every input, each filled so that a kind without failures counts 0.
    const expressions = (alarm.Metrics as Json[]).filter((m) => m.Expression);
    expect(expressions).toHaveLength(1);
    expect(expressions[0]!.ReturnData).not.toBe(false);
    for (const { id } of inputs) expect(expressions[0]!.Expression).toContain(`FILL(${id}, 0)`);
  });

  it('only kinds of reach alarm; every alarmed kind is one the metric may carry', () => {
    expect(ALARMED_ORIGIN_FAILURE_KINDS.every((k) => (ORIGIN_FAILURE_KINDS as readonly string[]).includes(k))).toBe(true);
    expect(ALARMED_ORIGIN_FAILURE_KINDS).not.toContain('http-4xx');
    expect(ALARMED_ORIGIN_FAILURE_KINDS).not.toContain('not-an-image');
  });

  it('the dashboard graphs the custom metrics', () => {
    // The body is a JSON string inside an Fn::Join: drop the escaping to look for the metric keys.
    const body = JSON.stringify(ofType('AWS::CloudWatch::Dashboard')[0]!.DashboardBody).replace(/\\/g, '');
    for (const name of Object.values(METRICS.names)) expect(body).toContain(`"${METRICS.namespace}","${name}"`);
  });
});

describe('alarms on queues', () => {
  it.each(['main', 'priority'] as WorkQueueName[])('%s queue alarms on the age of its oldest message', (name) => {
    const found = alarmsOn('ApproximateAgeOfOldestMessage').filter((a) =>
      a.Dimensions.some((d: Json) => refId(d.Value) === queueIds(name).queue),
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ Namespace: 'AWS/SQS', Statistic: 'Maximum', ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(found[0]!.Threshold).toBeGreaterThan(0);
  });

  it('the tasks dead-letter queue alarms on one visible message', () => {
    const found = alarmsOn('ApproximateNumberOfMessagesVisible').filter((a) =>
      a.Dimensions.some((d: Json) => refId(d.Value) === queueIds('tasks').dlq),
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ Threshold: 1, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(found[0]!.AlarmDescription).toMatch(/redrive/);
  });

  it.each(['main', 'priority'] as WorkQueueName[])(
    '%s dead letters left unrecorded (visible or in flight) for 10 minutes alarm',
    (name) => {
      const found = alarms.filter((a) =>
        (a.Metrics as Json[] | undefined)?.some((m) =>
          m.MetricStat?.Metric.Dimensions.some((d: Json) => refId(d.Value) === queueIds(name).dlq),
        ),
      );
      expect(found).toHaveLength(1);
      expect(
        mathInputs(found[0]!)
          .map((i) => i.metric.MetricName)
          .sort(),
      ).toEqual(['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesVisible']);
      expect(found[0]).toMatchObject({ Threshold: 1, EvaluationPeriods: 10 });
    },
  );
});

describe('alarm names', () => {
  it('every alarm has an explicit name starting with its stack name, unique across two stacks in one account', () => {
    const names = stacks.flatMap((s) =>
      ofType('AWS::CloudWatch::Alarm', resourcesOf(s)).map((a) => {
        expect(typeof a.AlarmName).toBe('string');
        expect(a.AlarmName.startsWith(`${s.stackName}-`)).toBe(true);
        return a.AlarmName as string;
      }),
    );
    expect(names.length).toBe(2 * alarms.length);
    expect(new Set(names).size).toBe(names.length);
  });

  it("the second stack's custom-metric alarms watch its own service dimension", () => {
    const dev = stacks[1]!;
    const found = ofType('AWS::CloudWatch::Alarm', resourcesOf(dev)).filter((a) => a.MetricName === METRICS.names.imagesDeadLettered);
    expect(found[0]!.Dimensions).toEqual([{ Name: METRICS.serviceDimension, Value: dev.stackName }]);
  });
});

describe('alarms that reach someone', () => {
  const topicIdOf = (s: ImageQueueStack) => s.getLogicalId(s.alarmTopic.node.defaultChild as CfnElement);
  const alarmsOf = (from: Record<string, Json>) => Object.entries(from).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
  const tells = (actions: unknown, topicId: string) => Array.isArray(actions) && actions.some((a) => refId(a) === topicId);
  const emailSubscriptions = (from: Record<string, Json>) =>
    ofType('AWS::SNS::Subscription', from).filter((subscription) => subscription.Protocol === 'email');

  it.each(stacks.map((s) => [s.stackName, s] as const))(
    '%s: every alarm tells its own alarm topic when it fires (ALARM) and when it clears (OK)',
    (_, s) => {
      const found = alarmsOf(resourcesOf(s));
      expect(found.length).toBeGreaterThanOrEqual(12);
      const silent = found
        .filter(([, a]) => !tells(a.Properties.AlarmActions, topicIdOf(s)) || !tells(a.Properties.OKActions, topicIdOf(s)))
        .map(([id]) => id);
      expect(silent).toEqual([]);
    },
  );

  it('the alarm topic is named after its stack, takes TLS only, and lets only CloudWatch alarms of its stack publish', () => {
    const names = stacks.map((s) => resourcesOf(s)[topicIdOf(s)]!.Properties.TopicName);
    expect(names).toEqual(stacks.map((s) => `${s.stackName}-alarms`));
    const policies = ofType('AWS::SNS::TopicPolicy').filter((p) => (p.Topics as Json[]).some((t) => refId(t) === topicIdOf(stack)));
    expect(policies).toHaveLength(1);
    const statements = policies[0]!.PolicyDocument.Statement as Json[];
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    // Without it CloudWatch is "not authorized": this policy replaces SNS's default one.
    const cloudwatch = statements.filter((st) => st.Principal?.Service === 'cloudwatch.amazonaws.com');
    expect(cloudwatch).toHaveLength(1);
    expect(cloudwatch[0]).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: topicIdOf(stack) } });
    expect(cloudwatch[0]!.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    expect(JSON.stringify(cloudwatch[0]!.Condition.ArnLike['aws:SourceArn'])).toContain(`:alarm:${stack.stackName}-*`);
  });

  it('publishes the topic ARN as an output that says how to subscribe', () => {
    const output = Template.fromStack(stack).toJSON().Outputs[OUTPUTS.alarmTopicArn];
    expect(output.Value).toEqual({ Ref: topicIdOf(stack) });
    expect(output.Description).toMatch(/aws sns subscribe --topic-arn .* --protocol email/);
  });

  it('subscribes no address unless asked', () => {
    expect(emailSubscriptions(resources)).toEqual([]);
  });

  it('alarmEmail subscribes the address to the alarm topic; further alarmActions come on top of the topic', () => {
    const own = new App({ context: NO_BUNDLING });
    const paging = sns.Topic.fromTopicArn(new Stack(own, 'Elsewhere'), 'Paging', 'arn:aws:sns:eu-west-1:111122223333:paging');
    const s = new ImageQueueStack(own, 'ImageQueue', {
      alarmEmail: 'ops@example.org',
      alarmActions: [new cloudwatchActions.SnsAction(paging)],
    });
    const found = resourcesOf(s);
    expect(emailSubscriptions(found)).toEqual([{ Protocol: 'email', Endpoint: 'ops@example.org', TopicArn: { Ref: topicIdOf(s) } }]);
    for (const [, a] of alarmsOf(found)) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: topicIdOf(s) }, paging.topicArn]);
      expect(a.Properties.OKActions).toEqual([{ Ref: topicIdOf(s) }]);
    }
  });

  it('-c alarmEmail (with -c stage) reaches the stack the app builds', () => {
    const own = new App({ context: { ...NO_BUNDLING, stage: 'dev', alarmEmail: ' ops@example.org ' } });
    const s = stackFromContext(own, {});
    expect(s.stackName).toBe('ImageQueue-dev');
    expect(emailSubscriptions(resourcesOf(s))).toEqual([
      { Protocol: 'email', Endpoint: 'ops@example.org', TopicArn: { Ref: topicIdOf(s) } },
    ]);
  });

  it.each(['ops@example', 'ops example.org', 'ops@example.org,dev@example.org', 'Ops <ops@example.org>'])(
    'a bad address (%s) stops the synthesis with a clear error, from the context or the prop',
    (address) => {
      expect(() => stackFromContext(new App({ context: { ...NO_BUNDLING, alarmEmail: address } }), {})).toThrow(
        `-c alarmEmail must be one e-mail address such as ops@example.org; got "${address}"`,
      );
      const props: ImageQueueStackProps = { alarmEmail: address };
      expect(() => new ImageQueueStack(new App({ context: NO_BUNDLING }), 'ImageQueue', props)).toThrow(
        /^alarmEmail must be one e-mail address/,
      );
    },
  );
});
