/**
 * The scheduled jobs (EventBridge rules on AWS) as unref'd timers, with `runNow` for tests: which
 * function runs every how many minutes is `SCHEDULES` (lambdas/config/functions.ts), as in the stack.
 */
import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import { SCHEDULE_NAMES, SCHEDULES, type ScheduleName } from '../lambdas/config/functions';
import { consoleLogger, type HandlerLoader, invokeFunction, type RuntimeLogger } from './handlers';

export type { ScheduleName };

export interface ScheduleOptions {
  loadHandler: HandlerLoader;
  /** false: no timers (runNow still works). Default true. */
  enabled?: boolean;
  /** Overrides the period of every schedule (ms), e.g. for demos. */
  periodMs?: Partial<Record<ScheduleName, number>>;
  functionPrefix?: string;
  region?: string;
  logger?: RuntimeLogger;
}

export interface Schedules {
  /** Invokes the job now (waits for a run in progress first) and returns the handler's result. */
  runNow(name: ScheduleName): Promise<unknown>;
  stop(): Promise<void>;
}

export function scheduledEvent(name: ScheduleName, region: string): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:000000000000:rule/local-${name}`],
    detail: {},
  };
}

export function startSchedules(options: ScheduleOptions): Schedules {
  const logger = options.logger ?? consoleLogger;
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const prefix = options.functionPrefix ?? 'local';
  const running = new Map<ScheduleName, Promise<unknown>>();
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;

  function run(name: ScheduleName): Promise<unknown> {
    const fn = SCHEDULES[name].fn;
    const p = (async () => {
      const handler = await options.loadHandler(fn);
      return invokeFunction(fn, handler, scheduledEvent(name, region), { prefix });
    })();
    const tracked = p.finally(() => {
      if (running.get(name) === tracked) running.delete(name);
    });
    running.set(name, tracked);
    return p;
  }

  if (options.enabled !== false) {
    for (const name of SCHEDULE_NAMES) {
      const period = options.periodMs?.[name] ?? SCHEDULES[name].everyMinutes * 60_000;
      const timer = setInterval(() => {
        if (stopped || running.has(name)) return; // no overlapping runs
        run(name).catch((err) => logger.error(`scheduled ${SCHEDULES[name].fn} failed`, err));
      }, period);
      timer.unref();
      timers.push(timer);
    }
  }

  return {
    async runNow(name) {
      const current = running.get(name);
      if (current) await current.catch(() => undefined);
      return run(name);
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
      await Promise.allSettled([...running.values()]);
    },
  };
}
