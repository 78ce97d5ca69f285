/**
 * The work queues (main, priority, tasks) from `QUEUES`, each redriving to its own dead-letter
 * queue after `maxReceiveCount` receives. Dead letters are kept for the SQS maximum (14 days):
 * the tasks dead-letter queue has no consumer, so that is how long a person has to redrive them.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEAD_LETTER_RETENTION_DAYS, QUEUES, type QueueDefinition, type WorkQueueName } from '../../lambdas/config/resources';

export interface WorkQueue {
  readonly name: WorkQueueName;
  readonly definition: QueueDefinition;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
}

export interface WorkQueuesProps {
  /**
   * Visibility timeout of the dead-letter queues: at least 6 × the timeout of the function that
   * records dead letters (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
   */
  readonly deadLetterVisibilityTimeout: Duration;
  /** @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
}

/** One queue per `QUEUES` entry, each with its own dead-letter queue. */
export class WorkQueues extends Construct {
  readonly queues: Record<WorkQueueName, WorkQueue>;

  constructor(scope: Construct, id: string, props: WorkQueuesProps) {
    super(scope, id);
    const common = {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    };
    const make = (name: WorkQueueName): WorkQueue => {
      const definition = QUEUES[name];
      const deadLetterQueue = new sqs.Queue(this, `${definition.id}DeadLetters`, {
        ...common,
        retentionPeriod: Duration.days(DEAD_LETTER_RETENTION_DAYS),
        visibilityTimeout: props.deadLetterVisibilityTimeout,
      });
      const queue = new sqs.Queue(this, definition.id, {
        ...common,
        visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds),
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: definition.maxReceiveCount },
      });
      return { name, definition, queue, deadLetterQueue };
    };
    this.queues = { main: make('main'), priority: make('priority'), tasks: make('tasks') };
  }

  /** The queues in a stable order (main, priority, tasks). */
  all(): WorkQueue[] {
    return [this.queues.main, this.queues.priority, this.queues.tasks];
  }
}
