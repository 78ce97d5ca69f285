/**
 * The functions fed by queues and schedules: one image processor per work queue (main, priority),
 * the task runner, the dead-letter recorder and the two scheduled jobs.
 *
 * Only the main and priority dead-letter queues have a consumer (the recorder turns each dead
 * letter into an error so its batch finishes). The tasks dead-letter queue has none on purpose: a
 * task that kept failing stays there for a person to inspect and redrive, and its alarm fires.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { METRICS } from '../../lambdas/config/metrics';
import { ENV, type QueueName, SCHEDULES } from '../../lambdas/config/resources';
import { consumeQueue, type FunctionDefaults, ServiceFunction } from './functions';
import type { WorkQueue, WorkQueues } from './queues';

/** Timeout of the dead-letter recorder; the dead-letter queues' visibility timeout is 6 × this. */
export const DEAD_LETTER_RECORDER_TIMEOUT = Duration.seconds(30);

/** Records per dead-letter recorder invocation. */
const DEAD_LETTER_BATCH_SIZE = 10;

export interface WorkersProps {
  readonly queues: WorkQueues;
  readonly defaults: FunctionDefaults;
}

export class Workers extends Construct {
  /** Image processors by the queue they consume. */
  readonly processors: Record<QueueName, ServiceFunction>;
  readonly runTasks: ServiceFunction;
  readonly recordDeadLetters: ServiceFunction;
  readonly sweepEnqueueing: ServiceFunction;
  readonly sampleLoad: ServiceFunction;

  constructor(scope: Construct, id: string, props: WorkersProps) {
    super(scope, id);
    const { queues, defaults } = props;

    /** A function consuming one work queue with that queue's settings from `QUEUES`. */
    const consumer = (fnId: string, handler: 'process-images' | 'run-tasks', work: WorkQueue): ServiceFunction => {
      const fn = new ServiceFunction(this, fnId, {
        ...defaults,
        handler,
        description: `Consumes the ${work.name} queue`,
        timeout: Duration.seconds(work.definition.processorTimeoutSeconds),
        memoryMiB: work.definition.memoryMiB,
      });
      consumeQueue(fn, 'Queue', work.queue, { batchSize: work.definition.batchSize, maxConcurrency: work.definition.maxConcurrency });
      return fn;
    };

    this.processors = {
      main: consumer(`Process${queues.queues.main.definition.id}`, 'process-images', queues.queues.main),
      priority: consumer(`Process${queues.queues.priority.definition.id}`, 'process-images', queues.queues.priority),
    };
    for (const fn of Object.values(this.processors)) fn.addEnvironment(ENV.allowPrivateOrigins, 'false');

    this.runTasks = consumer('RunTasks', 'run-tasks', queues.queues.tasks);
    this.runTasks.addEnvironment(ENV.allowPrivateOrigins, 'false');

    this.recordDeadLetters = new ServiceFunction(this, 'RecordDeadLetters', {
      ...defaults,
      handler: 'record-dead-letters',
      description: 'Records messages that reached a dead-letter queue',
      timeout: DEAD_LETTER_RECORDER_TIMEOUT,
    });
    for (const work of [queues.queues.main, queues.queues.priority]) {
      consumeQueue(this.recordDeadLetters, `${work.definition.id}DeadLetters`, work.deadLetterQueue, { batchSize: DEAD_LETTER_BATCH_SIZE });
    }

    // The functions that emit custom metrics tag them with the stack name (the alarms' dimension).
    for (const fn of [...Object.values(this.processors), this.recordDeadLetters]) {
      fn.addEnvironment(METRICS.serviceEnv, Stack.of(this).stackName);
    }

    this.sweepEnqueueing = new ServiceFunction(this, 'SweepEnqueueing', {
      ...defaults,
      handler: 'sweep-enqueueing',
      description: 'Re-sends messages of batches whose submit stopped before enqueueing every member',
      timeout: Duration.seconds(60),
      memoryMiB: 512,
    });

    this.sampleLoad = new ServiceFunction(this, 'SampleLoad', {
      ...defaults,
      handler: 'sample-load',
      description: 'Records one load sample per customer and queue',
      timeout: Duration.seconds(60),
    });

    new events.Rule(this, 'SweepEnqueueingSchedule', {
      schedule: events.Schedule.rate(Duration.minutes(SCHEDULES.sweepEnqueueing.everyMinutes)),
      targets: [new targets.LambdaFunction(this.sweepEnqueueing, { retryAttempts: 0 })],
    });
    new events.Rule(this, 'SampleLoadSchedule', {
      schedule: events.Schedule.rate(Duration.minutes(SCHEDULES.sampleLoad.everyMinutes)),
      targets: [new targets.LambdaFunction(this.sampleLoad, { retryAttempts: 0 })],
    });
  }
}
