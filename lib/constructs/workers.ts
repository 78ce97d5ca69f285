/**
 * The functions fed by queues and schedules, built from `CONSUMERS` and `SCHEDULES`
 * (lambdas/config/functions.ts): one image processor per member queue (main, priority), the task
 * runner, the dead-letter recorder (both member dead-letter queues) and the scheduled jobs. Each
 * function's timeout, memory and own variables come from its `FUNCTIONS` entry.
 *
 * The tasks dead-letter queue has no consumer on purpose: a task that kept failing stays there for
 * a person to inspect and redrive, and its alarm fires.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import {
  CONSUMERS,
  type EventSourceName,
  FUNCTION_NAMES,
  FUNCTIONS,
  type FunctionName,
  SCHEDULE_NAMES,
  SCHEDULES,
  type ScheduleName,
  sourcesOf,
} from '../../lambdas/config/functions';
import { QUEUES, type QueueName } from '../../lambdas/config/resources';
import { consumeQueue, type FunctionDefaults, ServiceFunction } from './functions';
import type { WorkQueues } from './queues';

export interface WorkersProps {
  readonly queues: WorkQueues;
  readonly defaults: FunctionDefaults;
}

export class Workers extends Construct {
  /** Every function built here, in `FUNCTIONS` order. */
  readonly functions: ServiceFunction[] = [];
  /** The function consuming each event source of `CONSUMERS`. */
  readonly consumers: Record<EventSourceName, ServiceFunction>;
  /** The function each schedule of `SCHEDULES` runs. */
  readonly scheduled: Record<ScheduleName, ServiceFunction>;
  /** Image processors by the queue they consume. */
  readonly processors: Record<QueueName, ServiceFunction>;
  readonly runTasks: ServiceFunction;
  readonly recordDeadLetters: ServiceFunction;
  readonly sweepEnqueueing: ServiceFunction;
  readonly sampleLoad: ServiceFunction;

  constructor(scope: Construct, id: string, props: WorkersProps) {
    super(scope, id);
    const { queues, defaults } = props;
    const consumers: Partial<Record<EventSourceName, ServiceFunction>> = {};
    const scheduled: Partial<Record<ScheduleName, ServiceFunction>> = {};

    const build = (name: FunctionName, fnId: string, sources: EventSourceName[], description?: string): ServiceFunction => {
      const fn = new ServiceFunction(this, fnId, { ...defaults, handler: name, description });
      for (const source of sources) {
        const { queue, deadLetters } = CONSUMERS[source];
        const work = queues.queues[queue];
        // Mapping ids as they always were, so that redeploying replaces no event source.
        consumeQueue(
          fn,
          deadLetters ? `${work.definition.id}DeadLetters` : 'Queue',
          deadLetters ? work.deadLetterQueue : work.queue,
          source,
        );
        consumers[source] = fn;
      }
      this.functions.push(fn);
      return fn;
    };

    for (const name of FUNCTION_NAMES) {
      const definition = FUNCTIONS[name];
      const sources = sourcesOf(name);
      const schedules = SCHEDULE_NAMES.filter((schedule) => SCHEDULES[schedule].fn === name);
      if (sources.length === 0 && schedules.length === 0) continue; // an API function (QueueApi)
      if (definition.perQueue) {
        if (schedules.length > 0) throw new Error(`${name} is deployed per queue and cannot also run on a schedule`);
        for (const source of sources) {
          const queue = CONSUMERS[source].queue;
          build(name, `${definition.id}${QUEUES[queue].id}`, [source], `${definition.description} (the ${queue} queue)`);
        }
        continue;
      }
      const fn = build(name, definition.id, sources);
      for (const schedule of schedules) {
        new events.Rule(this, `${schedule[0]!.toUpperCase()}${schedule.slice(1)}Schedule`, {
          schedule: events.Schedule.rate(Duration.minutes(SCHEDULES[schedule].everyMinutes)),
          // A missed run is not retried: the next one comes within minutes and does the same work.
          targets: [new targets.LambdaFunction(fn, { retryAttempts: 0 })],
        });
        scheduled[schedule] = fn;
      }
    }

    this.consumers = consumers as Record<EventSourceName, ServiceFunction>;
    this.scheduled = scheduled as Record<ScheduleName, ServiceFunction>;
    this.processors = { main: this.consumers.main, priority: this.consumers.priority };
    this.runTasks = this.consumers.tasks;
    this.recordDeadLetters = this.consumers['main-dlq'];
    this.sweepEnqueueing = this.scheduled.sweepEnqueueing;
    this.sampleLoad = this.scheduled.sampleLoad;
  }
}
