/**
 * The synthesised template against the wiring tables of lambdas/config/functions.ts: every function
 * of `FUNCTIONS` with its timeout, memory and own variables (and no function the table does not
 * name), one event source mapping per `CONSUMERS` entry with its queue, function, batch size and
 * concurrency, one rule per `SCHEDULES` entry. The local runtime reads the same tables
 * (test/unit/local-wiring.test.ts). Bundling is skipped as in stack.test.ts.
 */
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  CONSUMERS,
  DEAD_LETTER_VISIBILITY_TIMEOUT_SECONDS,
  EVENT_SOURCES,
  FUNCTION_NAMES,
  FUNCTIONS,
  SCHEDULE_NAMES,
  SCHEDULES,
  sourcesOf,
  urlEnvOf,
} from '../../lambdas/config/functions';
import { METRICS } from '../../lambdas/config/metrics';
import { API_TIMEOUT_SECONDS, QUEUES } from '../../lambdas/config/resources';
import { ROUTES } from '../../lambdas/config/routes';
import { ImageQueueStack } from '../../lib/image-queue-stack';

type Json = Record<string, any>;

// ---- Prepare ------------------------------------------------------------------------------------

const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const stack = new ImageQueueStack(app, 'ImageQueue');
const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Json>;

const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);
const ofType = (type: string): Array<[string, Json]> =>
  Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties as Json]);
/** Logical id behind a `{Ref}` or `{Fn::GetAtt}` value. */
const refId = (value: any): string | undefined => value?.Ref ?? (Array.isArray(value?.['Fn::GetAtt']) ? value['Fn::GetAtt'][0] : undefined);

/** The stack's functions by logical id, with the entry point each runs. */
const functions = stack
  .allFunctions()
  .map((fn) => ({ id: logicalId(fn), name: fn.handlerName, props: resources[logicalId(fn)]!.Properties as Json }));
const functionById = new Map(functions.map((fn) => [fn.id, fn]));

/** The queue an event source reads, as a logical id. */
const queueIdOf = (source: (typeof EVENT_SOURCES)[number]): string => {
  const { queue, deadLetters } = CONSUMERS[source];
  const work = stack.queues.queues[queue];
  return logicalId(deadLetters ? work.deadLetterQueue : work.queue);
};

// ---- Assess -------------------------------------------------------------------------------------

describe('FUNCTIONS', () => {
  it('every function of the template runs an entry point of the table, and nothing else is deployed', () => {
    const deployed = ofType('AWS::Lambda::Function')
      .map(([id]) => id)
      .sort();
    expect(deployed).toEqual(functions.map((fn) => fn.id).sort());
  });

  it.each(FUNCTION_NAMES)('%s is deployed (once per queue it consumes when perQueue) with its timeout and memory', (name) => {
    const definition = FUNCTIONS[name];
    const deployed = functions.filter((fn) => fn.name === name);
    expect(deployed).toHaveLength(definition.perQueue ? sourcesOf(name).length : 1);
    for (const fn of deployed) {
      expect(fn.props.Timeout).toBe(definition.timeoutSeconds);
      expect(fn.props.MemorySize).toBe(definition.memoryMiB);
      expect(fn.props.Description).toContain(definition.description);
    }
  });

  it.each(FUNCTION_NAMES)('%s has its own variables, and the stack name on its metrics if it emits any', (name) => {
    const definition = FUNCTIONS[name];
    for (const fn of functions.filter((f) => f.name === name)) {
      const variables = fn.props.Environment.Variables as Json;
      expect(variables).toMatchObject(definition.environment ?? {});
      expect(variables[METRICS.serviceEnv]).toBe(definition.metrics ? stack.stackName : undefined);
    }
  });

  it('gives the API functions no more time than API Gateway waits', () => {
    for (const name of new Set(ROUTES.map((route) => route.fn))) {
      expect(FUNCTIONS[name].timeoutSeconds).toBeLessThanOrEqual(API_TIMEOUT_SECONDS);
    }
  });
});

describe('CONSUMERS', () => {
  const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, m]) => m);

  it('has one event source mapping per entry, and no other', () => {
    expect(mappings).toHaveLength(EVENT_SOURCES.length);
    expect(new Set(mappings.map((m) => refId(m.EventSourceArn))).size).toBe(EVENT_SOURCES.length);
  });

  it.each(EVENT_SOURCES)('%s: consumed by its function with its batch size and concurrency, reporting partial failures', (source) => {
    const consumer = CONSUMERS[source];
    const found = mappings.filter((m) => refId(m.EventSourceArn) === queueIdOf(source));
    expect(found).toHaveLength(1);
    const mapping = found[0]!;
    const fn = functionById.get(refId(mapping.FunctionName)!);
    expect(fn?.name).toBe(consumer.fn);
    expect(mapping.BatchSize).toBe(consumer.batchSize);
    expect(mapping.ScalingConfig).toEqual(
      consumer.maxConcurrency === undefined ? undefined : { MaximumConcurrency: consumer.maxConcurrency },
    );
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    // How the handler tells which queue (and so which maxReceiveCount) a record came from.
    expect(refId(fn!.props.Environment.Variables[urlEnvOf(source)])).toBe(queueIdOf(source));
  });

  it('gives each per-queue function exactly one event source', () => {
    for (const fn of functions.filter((f) => FUNCTIONS[f.name].perQueue)) {
      expect(mappings.filter((m) => refId(m.FunctionName) === fn.id)).toHaveLength(1);
    }
  });

  it("keeps each consumed queue's visibility timeout at 6 x its consumer's timeout or more", () => {
    for (const source of EVENT_SOURCES) {
      const visibility = resources[queueIdOf(source)]!.Properties.VisibilityTimeout as number;
      expect(visibility).toBeGreaterThanOrEqual(6 * FUNCTIONS[CONSUMERS[source].fn].timeoutSeconds);
      if (CONSUMERS[source].deadLetters) expect(visibility).toBe(DEAD_LETTER_VISIBILITY_TIMEOUT_SECONDS);
      else expect(visibility).toBe(QUEUES[CONSUMERS[source].queue].visibilityTimeoutSeconds);
    }
  });
});

describe('SCHEDULES', () => {
  const rules = ofType('AWS::Events::Rule').map(([, r]) => r);
  const rate = (minutes: number) => `rate(${minutes} minute${minutes === 1 ? '' : 's'})`;

  it('has one rule per entry, and no other', () => {
    expect(rules).toHaveLength(SCHEDULE_NAMES.length);
  });

  it.each(SCHEDULE_NAMES)('%s runs its function at its rate, without retries', (name) => {
    const { fn, everyMinutes } = SCHEDULES[name];
    const found = rules.filter((r) => (r.Targets as Json[]).some((t) => functionById.get(refId(t.Arn)!)?.name === fn));
    expect(found).toHaveLength(1);
    expect(found[0]!.ScheduleExpression).toBe(rate(everyMinutes));
    expect(found[0]!.Targets).toEqual([expect.objectContaining({ RetryPolicy: { MaximumRetryAttempts: 0 } })]);
  });
});
