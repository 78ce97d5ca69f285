/**
 * Alarms on what needs a person and a dashboard of queue depth, processing rate, errors, API
 * latency and the custom metrics the handlers emit (lambdas/config/metrics.ts).
 *
 * What alarms: images dead-lettered (the recorder turns them into errors within seconds, so the
 * dead-letter queue's depth says nothing; the ImagesDeadLettered metric does), origin fetches
 * failing for reasons of reach (timeouts, network errors), messages waiting too long on a work
 * queue, task messages kept in the tasks dead-letter queue (nothing consumes it), member dead
 * letters the recorder leaves for 10 minutes (it is failing), and consumer errors. Every alarm is named
 * `<stack name>-<what>` so that two stacks (`-c stage=dev`) can live in one account, and tells the
 * alarm topic both when it fires and when it clears.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ALARMED_ORIGIN_FAILURE_KINDS, METRICS, ORIGIN_FAILURE_KINDS } from '../../lambdas/config/metrics';
import { DEAD_LETTER_RETENTION_DAYS, QUEUES, type WorkQueueName } from '../../lambdas/config/resources';
import type { WorkQueues } from './queues';

/** Age of the oldest message that raises an alarm, per work queue. */
export type OldestMessageAlarmAges = Record<WorkQueueName, Duration>;

export const DEFAULT_OLDEST_MESSAGE_ALARM_AGES: OldestMessageAlarmAges = {
  main: Duration.minutes(15),
  priority: Duration.minutes(2),
  tasks: Duration.minutes(15),
};

/**
 * Origin failures of the alarmed kinds (timeouts, network errors) per 5 minutes that raise the
 * alarm when it holds for 3 periods in a row. A processor fetches 10 origins at once, so an egress
 * or resolver outage makes thousands in 5 minutes; 50, sustained for 15 minutes, stays clear of a
 * few flaky origins and of retries that then succeed, but catches one large origin host being down.
 */
export const DEFAULT_ORIGIN_FAILURE_ALARM_THRESHOLD = 50;

export interface MonitoringProps {
  readonly queues: WorkQueues;
  /** Functions whose errors raise an alarm (the queue consumers), by a short label. */
  readonly processors: Record<string, lambda.IFunction>;
  /** Further functions shown on the dashboard's error graph. */
  readonly otherFunctions?: Record<string, lambda.IFunction>;
  readonly api: apigateway.RestApi;
  /**
   * @default DEFAULT_OLDEST_MESSAGE_ALARM_AGES (main 15 min, priority 2 min, tasks 15 min)
   */
  readonly oldestMessageAlarmAges?: Partial<OldestMessageAlarmAges>;
  /** @default DEFAULT_ORIGIN_FAILURE_ALARM_THRESHOLD */
  readonly originFailureAlarmThreshold?: number;
  /**
   * The topic every alarm tells when it fires (ALARM) and when it clears (OK): what a person
   * subscribes to (e-mail, a chat channel through AWS Chatbot, an HTTPS hook).
   */
  readonly alarmTopic: sns.ITopic;
  /**
   * Further actions run when an alarm fires, besides telling `alarmTopic` (e.g. a paging topic of
   * another account).
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
  /** @default 'image-queue' */
  readonly dashboardName?: string;
}

export class Monitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const ages = { ...DEFAULT_OLDEST_MESSAGE_ALARM_AGES, ...props.oldestMessageAlarmAges };
    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    const stackName = Stack.of(this).stackName;
    const topicAction = new cloudwatchActions.SnsAction(props.alarmTopic);

    const alarm = (
      alarmId: string,
      name: string,
      options: cloudwatch.CreateAlarmOptions & { metric: cloudwatch.IMetric },
    ): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        alarmName: `${stackName}-${name}`,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // SQS stops publishing metrics for idle queues, and the handlers write no zero counts:
        // silence means nothing happened.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...options,
      });
      // OK too: whoever got the alarm learns that it cleared without opening the console.
      created.addAlarmAction(topicAction, ...(props.alarmActions ?? []));
      created.addOkAction(topicAction);
      this.alarms.push(created);
      return created;
    };

    /** A metric the handlers emit, with the dimensions they give it (service = this stack's name). */
    const custom = (metricName: string, dimensions: Record<string, string> = {}, label?: string) =>
      new cloudwatch.Metric({
        namespace: METRICS.namespace,
        metricName,
        dimensionsMap: { [METRICS.serviceDimension]: stackName, ...dimensions },
        statistic: 'Sum',
        period: fiveMinutes,
        label,
      });
    const originFailures = (kind: string) => custom(METRICS.names.originFailures, { [METRICS.failureKindDimension]: kind }, kind);

    for (const work of props.queues.all()) {
      const label = work.definition.id;
      if (work.name === 'tasks') {
        alarm(`${label}DeadLettersAlarm`, `${work.name}-dead-letters`, {
          alarmDescription:
            `Task messages failed ${QUEUES.tasks.maxReceiveCount} times and are kept in the tasks dead-letter queue ` +
            `(nothing consumes it; they expire after ${DEAD_LETTER_RETENTION_DAYS} days). Read them` +
            ' and the RunTasks logs, fix the cause, then redrive ' +
            '(SQS console: Start DLQ redrive, or aws sqs start-message-move-task --source-arn <dead-letter queue ARN>).',
          metric: work.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: oneMinute, statistic: 'Maximum' }),
          threshold: 1,
          evaluationPeriods: 1,
        });
      } else {
        // The recorder deletes these within seconds of their arrival; while it fails, they sit in
        // flight between retries (so "visible" alone stays near 0), and with its event source
        // disabled they stay visible. Either way the queue is not empty for minutes on end.
        alarm(`${label}DeadLettersUnrecordedAlarm`, `${work.name}-dead-letters-unrecorded`, {
          alarmDescription:
            `Dead letters of the ${work.name} queue have not been recorded for 10 minutes: see the RecordDeadLetters ` +
            'logs ("could not record dead letters") and its event source mapping',
          metric: new cloudwatch.MathExpression({
            expression: 'FILL(visible, 0) + FILL(inFlight, 0)',
            usingMetrics: {
              visible: work.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: oneMinute, statistic: 'Maximum' }),
              inFlight: work.deadLetterQueue.metricApproximateNumberOfMessagesNotVisible({ period: oneMinute, statistic: 'Maximum' }),
            },
            period: oneMinute,
            label: `${work.name} dead letters present`,
          }),
          threshold: 1,
          evaluationPeriods: 10,
        });
      }
      alarm(`${label}OldestMessageAlarm`, `${work.name}-oldest-message`, {
        alarmDescription: `Oldest message in the ${work.name} queue is older than ${ages[work.name].toHumanString()}`,
        metric: work.queue.metricApproximateAgeOfOldestMessage({ period: oneMinute, statistic: 'Maximum' }),
        threshold: ages[work.name].toSeconds(),
        evaluationPeriods: 1,
      });
    }

    alarm('ImagesDeadLetteredAlarm', 'images-dead-lettered', {
      alarmDescription:
        'Images whose processing crashed or timed out every time were recorded as errors (not ingested). ' +
        'The RecordDeadLetters logs name each one ("image dead-lettered"); the ProcessMain/ProcessPriority logs say why.',
      metric: custom(METRICS.names.imagesDeadLettered),
      threshold: 1,
      evaluationPeriods: 1,
    });

    // One metric per kind: the alarm adds up the alarmed kinds (FILL: a kind with no failures has
    // no data point, which would otherwise blank the sum).
    const alarmedKinds = Object.fromEntries(ALARMED_ORIGIN_FAILURE_KINDS.map((kind, i) => [`k${i}`, originFailures(kind)]));
    const originThreshold = props.originFailureAlarmThreshold ?? DEFAULT_ORIGIN_FAILURE_ALARM_THRESHOLD;
    alarm('OriginFailuresAlarm', 'origin-failures', {
      alarmDescription:
        `At least ${originThreshold} origin fetches per 5 minutes failed with ${ALARMED_ORIGIN_FAILURE_KINDS.join(' or ')} ` +
        'for 15 minutes: the processors cannot reach origins (egress, DNS) or a large origin is down. ' +
        `See ${METRICS.namespace}/${METRICS.names.originFailures} by ${METRICS.failureKindDimension} and the processor logs.`,
      metric: new cloudwatch.MathExpression({
        expression: Object.keys(alarmedKinds)
          .map((id) => `FILL(${id}, 0)`)
          .join(' + '),
        usingMetrics: alarmedKinds,
        period: fiveMinutes,
        label: `origin failures (${ALARMED_ORIGIN_FAILURE_KINDS.join(', ')})`,
      }),
      threshold: originThreshold,
      evaluationPeriods: 3,
    });

    for (const [label, fn] of Object.entries(props.processors)) {
      alarm(`${label}ErrorsAlarm`, `${label}-errors`, {
        alarmDescription: `Errors in ${label}`,
        metric: fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
      });
    }

    const queues = props.queues.all();
    const allFunctions = { ...props.processors, ...props.otherFunctions };
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? 'image-queue',
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Queue depth (visible / in flight)',
        width: 12,
        left: queues.flatMap((w) => [
          w.queue.metricApproximateNumberOfMessagesVisible({ label: `${w.name} visible`, period: oneMinute, statistic: 'Maximum' }),
          w.queue.metricApproximateNumberOfMessagesNotVisible({ label: `${w.name} in flight`, period: oneMinute, statistic: 'Maximum' }),
        ]),
        right: queues.map((w) =>
          w.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            label: `${w.name} dead letters`,
            period: oneMinute,
            statistic: 'Maximum',
          }),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Processed messages per minute / oldest message age (s)',
        width: 12,
        left: queues.map((w) =>
          w.queue.metricNumberOfMessagesDeleted({ label: `${w.name} processed`, period: oneMinute, statistic: 'Sum' }),
        ),
        right: queues.map((w) =>
          w.queue.metricApproximateAgeOfOldestMessage({ label: `${w.name} oldest`, period: oneMinute, statistic: 'Maximum' }),
        ),
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Function errors / throttles',
        width: 8,
        left: Object.entries(allFunctions).map(([label, fn]) => fn.metricErrors({ label, period: fiveMinutes, statistic: 'Sum' })),
        right: Object.entries(allFunctions).map(([label, fn]) =>
          fn.metricThrottles({ label: `${label} throttles`, period: fiveMinutes, statistic: 'Sum' }),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency (ms)',
        width: 8,
        left: [
          props.api.metricLatency({ label: 'p50', statistic: 'p50', period: fiveMinutes }),
          props.api.metricLatency({ label: 'p99', statistic: 'p99', period: fiveMinutes }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'API 4xx / 5xx',
        width: 8,
        left: [
          props.api.metricClientError({ label: '4xx', period: fiveMinutes, statistic: 'Sum' }),
          props.api.metricServerError({ label: '5xx', period: fiveMinutes, statistic: 'Sum' }),
        ],
        right: [props.api.metricCount({ label: 'requests', period: fiveMinutes, statistic: 'Sum' })],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Images dead-lettered / batches finished (per 5 min)',
        width: 12,
        left: [custom(METRICS.names.imagesDeadLettered, {}, 'images dead-lettered')],
        right: [custom(METRICS.names.batchesFinished, {}, 'batches finished')],
      }),
      new cloudwatch.GraphWidget({
        title: 'Origin failures by kind (per 5 min)',
        width: 12,
        stacked: true,
        left: ORIGIN_FAILURE_KINDS.map((kind) => originFailures(kind)),
      }),
    );
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: this.alarms }));
  }
}
