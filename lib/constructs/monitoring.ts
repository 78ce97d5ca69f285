/**
 * Alarms on what needs a person (dead letters, messages waiting too long, processor errors) and a
 * dashboard of queue depth, processing rate, errors and API latency.
 */
import { Duration } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { WorkQueueName } from '../../lambdas/config/resources';
import type { WorkQueues } from './queues';

/** Age of the oldest message that raises an alarm, per work queue. */
export type OldestMessageAlarmAges = Record<WorkQueueName, Duration>;

export const DEFAULT_OLDEST_MESSAGE_ALARM_AGES: OldestMessageAlarmAges = {
  main: Duration.minutes(15),
  priority: Duration.minutes(2),
  tasks: Duration.minutes(15),
};

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
  /**
   * Actions run when an alarm fires (e.g. an SNS topic).
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

    const alarm = (alarmId: string, options: cloudwatch.CreateAlarmOptions & { metric: cloudwatch.IMetric }): void => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // SQS stops publishing metrics for idle queues: silence means nothing waits.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...options,
      });
      for (const action of props.alarmActions ?? []) created.addAlarmAction(action);
      this.alarms.push(created);
    };

    for (const work of props.queues.all()) {
      const label = work.definition.id;
      alarm(`${label}DeadLettersAlarm`, {
        alarmDescription: `Messages in the ${work.name} dead-letter queue`,
        metric: work.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: oneMinute, statistic: 'Maximum' }),
        threshold: 1,
        evaluationPeriods: 1,
      });
      alarm(`${label}OldestMessageAlarm`, {
        alarmDescription: `Oldest message in the ${work.name} queue is older than ${ages[work.name].toHumanString()}`,
        metric: work.queue.metricApproximateAgeOfOldestMessage({ period: oneMinute, statistic: 'Maximum' }),
        threshold: ages[work.name].toSeconds(),
        evaluationPeriods: 1,
      });
    }
    for (const [label, fn] of Object.entries(props.processors)) {
      alarm(`${label}ErrorsAlarm`, {
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
          w.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: `${w.name} dead letters`, period: oneMinute, statistic: 'Maximum' }),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Processed messages per minute / oldest message age (s)',
        width: 12,
        left: queues.map((w) => w.queue.metricNumberOfMessagesDeleted({ label: `${w.name} processed`, period: oneMinute, statistic: 'Sum' })),
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
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: this.alarms }),
    );
  }
}
