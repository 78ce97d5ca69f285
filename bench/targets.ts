/**
 * The targets of issues 6, 10 and 11 (the load query), checked against a run's figures. They are printed next to the figures
 * (PASS / MISS); they are not test assertions.
 */

import { DEFAULTS } from '../lambdas/config/resources';
import type { CostModel } from './cost';
import type { BundlesResult } from './scenarios/bundles';
import type { LoadScaleResult } from './scenarios/load';
import type { PriorityResult } from './scenarios/priority';
import type { ProcessingResult } from './scenarios/processing';
import type { ReadsResult } from './scenarios/reads';
import type { StrictResult } from './scenarios/strict';
import type { BatchLimit, SubmitResult } from './scenarios/submit';

export const TARGETS = {
  callsOverMinimum: 1.05,
  handlerOverBare: 1.2,
  writeUnitsPerMember: 3,
  priorityRatio: 1.5,
  /**
   * Bytes (1 MiB). The functions bundle the AWS SDK at the version the tests ran against (README,
   * "The AWS SDK on Lambda"); tree-shaken they load faster than the same code requiring the SDK
   * from node_modules.
   */
  bundleBytes: 1024 * 1024,
  costPerMillion: 3,
  /** A POST must fit at least the configured largest batch (MAX_BATCH_SIZE default). */
  largestBatch: DEFAULTS.maxBatchSize,
  /** Strict section: members/s with conflicts ÷ without (issue 10). */
  strictRatio: 0.8,
  /** Images/s one customer reaches before any partition key passes 1,000 WCU/s (issue 10). */
  ceilingImagesPerSecond: 2_000,
} as const;

export interface TargetCheck {
  /** Stable id, e.g. `submit.callsOverMinimum.10000`. */
  id: string;
  what: string;
  value: number;
  /** e.g. `≤ 1.05`. */
  target: string;
  pass: boolean;
  /** How far from the target, as a factor of it (value / limit, or limit / value for ≥ targets). */
  overBy: number;
}

export interface TargetInputs {
  submit: SubmitResult & { limit: BatchLimit };
  reads: ReadsResult;
  load: LoadScaleResult;
  priority: PriorityResult;
  processing: ProcessingResult;
  bundles: BundlesResult | { skipped: true };
  strict: StrictResult | { skipped: string };
  cost: CostModel;
}

const atMost = (id: string, what: string, value: number, limit: number, format = (n: number) => String(n)): TargetCheck => ({
  id,
  what,
  value,
  target: `≤ ${format(limit)}`,
  pass: Number.isFinite(value) && value <= limit,
  overBy: value / limit,
});

const atLeast = (id: string, what: string, value: number, limit: number, format = (n: number) => String(n)): TargetCheck => ({
  id,
  what,
  value,
  target: `≥ ${format(limit)}`,
  pass: !Number.isNaN(value) && value >= limit,
  overBy: limit / value,
});

export function evaluateTargets(r: TargetInputs): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const s of r.submit.sizes) {
    checks.push(
      atMost(`submit.callsOverMinimum.${s.members}`, `submit ${s.members}: calls / minimum`, s.callsOverMinimum, TARGETS.callsOverMinimum),
    );
    checks.push(
      atMost(
        `submit.handlerOverBare.${s.members}`,
        `submit ${s.members}: handler time / bare time`,
        s.handlerOverBare,
        TARGETS.handlerOverBare,
      ),
    );
  }
  const largest = r.submit.limit.largest;
  checks.push({
    id: 'submit.largestBatch',
    what: 'largest batch one POST fits (body, Lambda payload, 29 s)',
    value: largest,
    target: `≥ ${TARGETS.largestBatch}`,
    pass: largest >= TARGETS.largestBatch,
    overBy: TARGETS.largestBatch / largest,
  });
  checks.push(
    atMost(
      'processing.writeUnitsPerMember',
      'processing: DynamoDB write units per member',
      r.processing.perMember.writeUnits,
      TARGETS.writeUnitsPerMember,
    ),
  );
  checks.push(atMost('priority.ratio', 'priority: behind backlog / alone', r.priority.ratio, TARGETS.priorityRatio));
  for (const [endpoint, independent] of Object.entries(r.reads.independent)) {
    checks.push({
      id: `reads.independent.${endpoint}`,
      what: `${endpoint}: cost independent of batch size`,
      value: independent ? 1 : 0,
      target: 'same at every size',
      pass: independent,
      overBy: independent ? 1 : Infinity,
    });
  }
  const load = r.load;
  // The bound depends on the seeded samples: the asked-for items' bytes ÷ 4 KB + 1 unit per day partition.
  checks.push(
    atMost(
      'load.customerReadUnits',
      'load: read units of a 31-day query for one customer (≤ its items ÷ 4 KB + 1 per day)',
      load.withOthers.customer.readUnits,
      load.bound.customer,
    ),
  );
  checks.push(
    atMost(
      'load.adminReadUnits',
      'load: read units of a 31-day admin query, all customers (≤ the sums ÷ 4 KB + 1 per day)',
      load.withOthers.admin.readUnits,
      load.bound.admin,
    ),
  );
  checks.push({
    id: 'load.independent',
    what: "load: read units and partitions the same with 99 other customers' samples",
    value: load.independent ? 1 : 0,
    target: 'same with and without',
    pass: load.independent,
    overBy: load.independent ? 1 : Infinity,
  });
  if (!('skipped' in r.bundles)) checks.push(...bundleChecks(r.bundles));
  if (!('skipped' in r.strict)) {
    checks.push(atLeast('strict.ratio', 'strict: members/s with conflicts / without', r.strict.ratio, TARGETS.strictRatio));
    const ceiling = r.strict.ceiling.processing;
    checks.push(
      atLeast(
        'strict.ceiling',
        `modelled AWS ceiling per customer, images/s (binding: ${ceiling.binding?.pattern ?? 'none'})`,
        ceiling.imagesPerSecond,
        TARGETS.ceilingImagesPerSecond,
        (n) => n.toLocaleString('en-US'),
      ),
    );
  }
  checks.push(
    atMost('cost.perMillion', 'cost per million images (USD)', r.cost.totalPerMillion, TARGETS.costPerMillion, (n) => `$${n.toFixed(2)}`),
  );
  return checks;
}

/** The bundle size target of every function (also for a run of the bundles scenario alone). */
export function bundleChecks(bundles: BundlesResult): TargetCheck[] {
  return bundles.bundles.map((b) =>
    atMost(`bundles.${b.fn}`, `bundle ${b.fn}`, b.bytes, TARGETS.bundleBytes, (n) => `${(n / 1024).toFixed(0)} KiB`),
  );
}
