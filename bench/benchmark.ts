/**
 * The benchmark of issue 6: one local runtime, every scenario in one run, one result object (printed
 * as a table by table.ts, written as JSON by run.ts). `runBenchmark({ quick: true })` is the smoke
 * version used by test/integration/bench-smoke.test.ts.
 *
 * Order: `cdk synth` (bundles) runs while the emulators start; then submit (pollers paused), reads
 * (on the submit scenario's batches), priority alone (idle system), and processing with the
 * priority probes running behind its backlog.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { DEFAULTS } from '../lambdas/config/resources';
import { costPerMillion, DEFAULT_MEMORY, DEFAULT_PRICES, type CostModel, type MemorySizes, type Prices } from './cost';
import { startHarness, type Harness } from './harness';
import { runBundlesScenario, type BundlesResult } from './scenarios/bundles';
import { runProcessingScenario, type ProcessingResult } from './scenarios/processing';
import { measurePriorityAlone, measurePriorityBehind, priorityResult, type PriorityProbe, type PriorityResult } from './scenarios/priority';
import { runReadsScenario, type ReadsResult } from './scenarios/reads';
import { batchLimit, runSubmitScenario, type BatchLimit, type SubmitResult } from './scenarios/submit';
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
  /** Main-queue poll loops (default 8). */
  mainPollers?: number;
  /** Length of the 2-item transaction rate measurement (default 3 s; quick 1 s). */
  transactionSeconds?: number;
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
  };
  submit: SubmitResult & { limit: BatchLimit };
  reads: ReadsResult;
  priority: PriorityResult;
  processing: ProcessingResult<PriorityProbe[]>;
  bundles: BundlesResult | { skipped: true };
  cost: CostModel;
  /** Cost with Lambda duration taken as the processing run's elapsed time per member (see README). */
  costSerialDuration: CostModel;
  targets: TargetCheck[];
}

const SUBMIT_CUSTOMER_BASE = 1000;
const FLOW_CUSTOMER = 5000;

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
    mainPollers: options.mainPollers ?? 8,
    transactionSeconds: options.transactionSeconds ?? (quick ? 1 : 3),
  };
}

export async function runBenchmark(options: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const settings = resolveOptions(options);
  const log = options.log ?? (() => undefined);
  const startedAt = new Date();
  const started = performance.now();
  const loadStart = loadavg()[0] ?? 0;
  const step = (what: string) => log(`[bench ${((performance.now() - started) / 1000).toFixed(1)} s] ${what}`);

  step(settings.bundles ? 'starting the emulators; cdk synth in parallel' : 'starting the emulators');
  const bundlesPromise: Promise<BundlesResult | { skipped: true }> = settings.bundles
    ? runBundlesScenario()
    : Promise.resolve({ skipped: true as const });
  // Keep a synth failure from being reported as unhandled while the emulators start.
  bundlesPromise.catch(() => undefined);
  let harness: Harness;
  try {
    harness = await startHarness({ mainPollers: settings.mainPollers });
  } catch (error) {
    await bundlesPromise.catch(() => undefined);
    throw error;
  }
  try {
    const bundles = await bundlesPromise;
    if (!('skipped' in bundles)) step(`bundles: ${bundles.bundles.length} functions, synth ${(bundles.synthMs / 1000).toFixed(1)} s`);

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

    const partial = { submit: { ...submit, limit }, reads, priority, processing, bundles, cost };
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
      processorInvocations: (pollers['main']?.invocations ?? 0) / n,
      tasksInvocations: (pollers['tasks']?.invocations ?? 0) / n,
      processorMs: processing.perMember.handlerMs['process-images:main'] ?? 0,
      tasksMs: processing.perMember.handlerMs['run-tasks'] ?? 0,
    },
  };
}

export { TARGETS };
