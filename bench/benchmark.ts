/**
 * The benchmark of issue 6: one local runtime, every scenario in one run, one result object (printed
 * as a table by table.ts, written as JSON by run.ts). `runBenchmark({ quick: true })` is the smoke
 * version used by test/integration/bench-smoke.test.ts.
 *
 * Order: `cdk synth` and the bundles' load times first, before the emulators start (nothing else of
 * the bench runs while the load times are measured); then submit (pollers paused), reads
 * (on the submit scenario's batches), the load query (a month of seeded samples), priority alone
 * (idle system), processing with the priority probes running behind its backlog, and the
 * strict-mode section (the same workload without and with conflicts, in the same runtime).
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { DEFAULTS } from '../lambdas/config/resources';
import type { StrictDynamoOptions } from '../local/strict-dynamodb';
import { type CostModel, costPerMillion, DEFAULT_MEMORY, DEFAULT_PRICES, type MemorySizes, type Prices } from './cost';
import { startHarness } from './harness';
import { type BundlesResult, LOAD_RUNS, runBundlesScenario } from './scenarios/bundles';
import { DEFAULT_LOAD_SEED, type LoadScaleResult, runLoadScenario } from './scenarios/load';
import { measurePriorityAlone, measurePriorityBehind, type PriorityProbe, type PriorityResult, priorityResult } from './scenarios/priority';
import { type ProcessingResult, runProcessingScenario } from './scenarios/processing';
import { type ReadsResult, runReadsScenario } from './scenarios/reads';
import { runStrictScenario, type StrictResult } from './scenarios/strict';
import { type BatchLimit, batchLimit, runSubmitScenario, type SubmitResult } from './scenarios/submit';
import { evaluateTargets, TARGETS, type TargetCheck } from './targets';

export interface BenchmarkOptions {
  /** Small sizes, one repetition, no cdk synth unless `bundles` is true. */
  quick?: boolean;
  /** Submit batch sizes (default 100, 1,000, 10,000; quick 20, 100). */
  sizes?: number[];
  /** Repetitions per submit size (default 5; quick 1). Wall times are medians. */
  reps?: number;
  /** Members processed in the processing scenario, also the priority backlog (default 10,000; quick 100). */
  processingMembers?: number;
  /** Members of each priority probe batch (default 20). */
  priorityMembers?: number;
  /** Priority probes alone and behind the backlog (default 5; quick 1). */
  priorityReps?: number;
  /** Run cdk synth and measure the bundles (default: not in quick mode). */
  bundles?: boolean;
  /** Runs per function of the bundles' load time measurement (default 7; quick 3). */
  loadRuns?: number;
  /** Main-queue poll loops (default 8). */
  mainPollers?: number;
  /** Length of the 2-item transaction rate measurement (default 3 s; quick 1 s). */
  transactionSeconds?: number;
  /** Run the strict-mode section (default true). */
  strict?: boolean;
  /** Load query: samples a day of each of the 99 other customers (default 2; quick 1). */
  loadOthersPerDay?: number;
  /** Strict section: main-queue batches (default 4), members each (default 500; quick 40). */
  strictBatches?: number;
  strictMembers?: number;
  /** Strict section: members of its one priority batch (default 100; quick 20). */
  strictPriority?: number;
  /** Strict section: runs per mode, alternated without/with, with/without, … (default 2; quick 1). */
  strictReps?: number;
  prices?: Partial<Prices>;
  memory?: Partial<MemorySizes>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface BenchmarkResult {
  meta: {
    startedAt: string;
    totalMs: number;
    quick: boolean;
    settings: Required<Omit<BenchmarkOptions, 'prices' | 'memory' | 'log'>>;
    node: string;
    cpus: number;
    /** 1-minute load average at the start and the end (other work on the machine skews times). */
    loadAverage: { start: number; end: number };
    /** The strict DynamoDB proxy's options every scenario but the strict section ran with (none: off). */
    strictDynamo: StrictDynamoOptions | null;
  };
  submit: SubmitResult & { limit: BatchLimit };
  reads: ReadsResult;
  load: LoadScaleResult;
  priority: PriorityResult;
  processing: ProcessingResult<PriorityProbe[]>;
  bundles: BundlesResult | { skipped: true };
  /** The strict-mode section, or why it was skipped. */
  strict: StrictResult | { skipped: string };
  cost: CostModel;
  /** Cost with Lambda duration taken as the processing run's elapsed time per member (see README). */
  costSerialDuration: CostModel;
  targets: TargetCheck[];
}

const SUBMIT_CUSTOMER_BASE = 1000;
const FLOW_CUSTOMER = 5000;
const STRICT_CUSTOMER_BASE = 7000;
const PRIORITY_POLLERS = 4;
const TASKS_POLLERS = 2;

export function resolveOptions(options: BenchmarkOptions): BenchmarkResult['meta']['settings'] {
  const quick = options.quick ?? false;
  const sizes = options.sizes ?? (quick ? [20, 100] : [100, 1_000, 10_000]);
  return {
    quick,
    sizes,
    reps: options.reps ?? (quick ? 1 : 5),
    processingMembers: options.processingMembers ?? (quick ? 100 : 10_000),
    priorityMembers: options.priorityMembers ?? 20,
    priorityReps: options.priorityReps ?? (quick ? 1 : 5),
    bundles: options.bundles ?? !quick,
    loadRuns: options.loadRuns ?? (quick ? 3 : LOAD_RUNS),
    mainPollers: options.mainPollers ?? 8,
    transactionSeconds: options.transactionSeconds ?? (quick ? 1 : 3),
    strict: options.strict ?? true,
    strictBatches: options.strictBatches ?? 4,
    strictMembers: options.strictMembers ?? (quick ? 40 : 500),
    strictPriority: options.strictPriority ?? (quick ? 20 : 100),
    strictReps: options.strictReps ?? (quick ? 1 : 2),
    loadOthersPerDay: options.loadOthersPerDay ?? (quick ? 1 : 2),
  };
}

export async function runBenchmark(options: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const settings = resolveOptions(options);
  const log = options.log ?? (() => undefined);
  const startedAt = new Date();
  const started = performance.now();
  const loadStart = loadavg()[0] ?? 0;
  const step = (what: string) => log(`[bench ${((performance.now() - started) / 1000).toFixed(1)} s] ${what}`);

  let bundles: BundlesResult | { skipped: true } = { skipped: true };
  if (settings.bundles) {
    step(`bundles: cdk synth, then each function's load time (${settings.loadRuns} runs)`);
    bundles = await runBundlesScenario({ loadRuns: settings.loadRuns });
    step(`bundles: ${bundles.bundles.length} functions, synth ${(bundles.synthMs / 1000).toFixed(1)} s`);
  }
  step('starting the emulators');
  const harness = await startHarness({ mainPollers: settings.mainPollers, priorityPollers: PRIORITY_POLLERS, tasksPollers: TASKS_POLLERS });
  try {
    const strictDynamo = harness.runtime.strict ? { ...harness.runtime.strict.options } : null;

    step(`submit: sizes ${settings.sizes.join(', ')} × ${settings.reps}`);
    const submit = await runSubmitScenario(harness, settings.sizes, settings.reps, SUBMIT_CUSTOMER_BASE);
    const limit = batchLimit(submit, DEFAULTS.maxBodyBytes);

    const smallest = submit.sizes.reduce((a, s) => (s.members < a.members ? s : a));
    const largest = submit.sizes.reduce((a, s) => (s.members > a.members ? s : a));
    step(`reads: ${smallest.members} and ${largest.members} members`);
    const reads = await runReadsScenario(
      harness,
      [smallest, largest].map((s) => ({ members: s.members, customer: s.customer, batch: s.lastBatch })),
      Math.min(DEFAULTS.pageSize, smallest.members),
    );

    const loadSeed = { ...DEFAULT_LOAD_SEED, othersPerDay: settings.loadOthersPerDay };
    step(`load: ${loadSeed.customers} customers × ${loadSeed.days} days of samples, one customer's 31-day query`);
    const load = await runLoadScenario(harness, loadSeed);
    step(
      `load: ${load.withOthers.customer.readUnits} read units (bound ${load.bound.customer}), ` +
        `independent of other customers: ${load.independent}`,
    );

    step(`priority alone: ${settings.priorityMembers} members × ${settings.priorityReps}`);
    const alone = await measurePriorityAlone(harness, FLOW_CUSTOMER, settings.priorityMembers, settings.priorityReps);

    step(`processing: ${settings.processingMembers} members, ${settings.mainPollers} main pollers (priority probes behind it)`);
    const processing = await runProcessingScenario(harness, settings.processingMembers, FLOW_CUSTOMER, {
      mainPollers: settings.mainPollers,
      transactionSeconds: settings.transactionSeconds,
      during: (backlog) => measurePriorityBehind(harness, FLOW_CUSTOMER, settings.priorityMembers, settings.priorityReps, backlog),
    });
    // The processing counts hold the priority processor's calls under their own tag.
    const priority = priorityResult(settings.priorityMembers, settings.processingMembers, alone, {
      probes: processing.during ?? [],
      counts: processing.counts,
    });
    step(`processing: ${processing.membersPerSecond.toFixed(1)} members/s`);

    let strict: StrictResult | { skipped: string };
    if (!settings.strict) strict = { skipped: 'not asked for (--no-strict)' };
    else if (!harness.runtime.strict) strict = { skipped: 'strict DynamoDB mode is off (STRICT_DYNAMODB)' };
    else {
      const w = {
        mainBatches: settings.strictBatches,
        mainMembers: settings.strictMembers,
        priorityBatches: 1,
        priorityMembers: settings.strictPriority,
      };
      step(
        `strict: ${w.mainBatches} × ${w.mainMembers} main + ${w.priorityMembers} priority, ` +
          `${settings.strictReps} run(s) without and with conflicts`,
      );
      strict = await runStrictScenario(harness, w, settings.strictReps, STRICT_CUSTOMER_BASE, {
        main: settings.mainPollers,
        priority: PRIORITY_POLLERS,
        tasks: TASKS_POLLERS,
      });
      step(
        `strict: ${strict.withoutConflicts.membersPerSecond.toFixed(1)} → ` +
          `${strict.withConflicts.membersPerSecond.toFixed(1)} members/s, ` +
          `ceiling ${strict.ceiling.processing.imagesPerSecond.toFixed(0)} images/s (${strict.ceiling.processing.binding?.pattern})`,
      );
    }

    const prices = { ...DEFAULT_PRICES, ...options.prices };
    const memory = { ...DEFAULT_MEMORY, ...options.memory };
    const inputs = costInputs(submit, processing, largest.members);
    const cost = costPerMillion(inputs, prices, memory);
    const serialMs = processing.elapsedMs / processing.members;
    const costSerialDuration = costPerMillion(
      { ...inputs, processing: { ...inputs.processing, processorMs: serialMs, tasksMs: 0 } },
      prices,
      memory,
    );

    // Cost comes from the submit and processing scenarios only (never the strict section's runs).
    const partial = { submit: { ...submit, limit }, reads, load, priority, processing, bundles, strict, cost };
    const targets = evaluateTargets(partial);
    return {
      meta: {
        startedAt: startedAt.toISOString(),
        totalMs: performance.now() - started,
        quick: settings.quick,
        settings,
        node: process.version,
        cpus: cpus().length,
        loadAverage: { start: loadStart, end: loadavg()[0] ?? 0 },
        strictDynamo,
      },
      ...partial,
      costSerialDuration,
      targets,
    };
  } finally {
    step('stopping');
    await harness.stop();
  }
}

function costInputs(submit: SubmitResult, processing: ProcessingResult, batchSize: number) {
  const s = submit.sizes.find((x) => x.members === batchSize) ?? submit.sizes[submit.sizes.length - 1]!;
  const sqsSubmit = Object.values(s.calls.sqs).reduce((a, b) => a + b, 0);
  const pollers = processing.pollers;
  const n = processing.members;
  return {
    batchSize,
    submit: {
      writeUnits: s.writeUnits / s.members,
      readUnits: s.readUnits / s.members,
      sqsRequests: sqsSubmit / s.members,
      handlerMs: s.insideHandlerMs.median / s.members,
      authorizerMsPerRequest: s.authorizerMs.median,
    },
    processing: {
      writeUnits: processing.perMember.writeUnits,
      readUnits: processing.perMember.readUnits,
      sqsRequests: processing.perMember.sqsRequests,
      processorInvocations: (pollers.main?.invocations ?? 0) / n,
      tasksInvocations: (pollers.tasks?.invocations ?? 0) / n,
      processorMs: processing.perMember.handlerMs['process-images:main'] ?? 0,
      tasksMs: processing.perMember.handlerMs['run-tasks'] ?? 0,
    },
  };
}

export { TARGETS };
