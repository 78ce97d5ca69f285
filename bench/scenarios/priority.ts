/**
 * Scenario 3 — priority under backlog: the time from POSTing a small priority batch to GET batch
 * showing it finished, first on an idle system, then while the main queue holds a large backlog of
 * the same customer being processed (the processing scenario's batch: see benchmark.ts). The ratio
 * tells whether the priority queue really bypasses the main queue's work.
 */
import { performance } from 'node:perf_hooks';
import { assets, type BatchBody, collectionBody, type Harness, type Stats, stats } from '../harness';
import { type CountSnapshot, type Totals, totalsOf } from '../sdk-counters';

/** SDK calls of the priority processor (tag `process-images:priority`). */
export const PRIORITY_TAG = 'process-images:priority';

export interface PriorityProbe {
  ms: number;
  /** Backlog members still not terminal when the probe finished (undefined when alone). */
  backlogRemaining?: number;
}

export interface PriorityResult {
  members: number;
  backlogMembers: number;
  alone: Stats;
  behindBacklog: Stats;
  /** Whether every probe behind the backlog finished while the backlog still had work left. */
  backlogHeld: boolean;
  ratio: number;
  probes: { alone: PriorityProbe[]; behindBacklog: PriorityProbe[] };
  /** The priority processor's DynamoDB calls (errors: cancelled transactions, failed conditions). */
  dynamodb: { alone: Totals; behindBacklog: Totals };
}

/** POSTs one priority batch and waits for it to finish; returns the elapsed ms. */
async function probe(h: Harness, customer: number, members: number, label: string): Promise<number> {
  const body = collectionBody(assets(members, label, h.originUrl()));
  const started = performance.now();
  const posted = await h.post<BatchBody>(`/customers/${customer}/queue/priority`, body);
  if (posted.status !== 201) throw new Error(`priority submit answered ${posted.status}: ${JSON.stringify(posted.json).slice(0, 500)}`);
  await h.waitForBatch(customer, Number(posted.json.id), { intervalMs: 10 });
  return performance.now() - started;
}

/** Probes on an idle system with every poller running; also returns the SDK counts of the probes. */
export async function measurePriorityAlone(
  h: Harness,
  customer: number,
  members: number,
  reps: number,
): Promise<{ probes: PriorityProbe[]; counts: CountSnapshot }> {
  h.resume();
  await probe(h, customer, members, 'prio-warmup');
  h.resetCounts();
  const out: PriorityProbe[] = [];
  for (let rep = 0; rep < reps; rep++) out.push({ ms: await probe(h, customer, members, `prio-alone-${rep}`) });
  return { probes: out, counts: h.counters.snapshot() };
}

/** Probes one after the other while `backlog` (a main-queue batch of the same customer) is processed. */
export async function measurePriorityBehind(
  h: Harness,
  customer: number,
  members: number,
  reps: number,
  backlog: { batch: number },
): Promise<PriorityProbe[]> {
  const out: PriorityProbe[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const ms = await probe(h, customer, members, `prio-behind-${rep}`);
    const { json } = await h.get<BatchBody>(`/customers/${customer}/queue/batches/${backlog.batch}`);
    out.push({ ms, backlogRemaining: Number(json.count) - Number(json.completed) - Number(json.errors) });
  }
  return out;
}

export function priorityResult(
  members: number,
  backlogMembers: number,
  alone: { probes: PriorityProbe[]; counts: CountSnapshot },
  behind: { probes: PriorityProbe[]; counts: CountSnapshot },
): PriorityResult {
  return {
    ...probeStats(members, backlogMembers, alone.probes, behind.probes),
    dynamodb: {
      alone: totalsOf(alone.counts, 'dynamodb', [PRIORITY_TAG]),
      behindBacklog: totalsOf(behind.counts, 'dynamodb', [PRIORITY_TAG]),
    },
  };
}

function probeStats(
  members: number,
  backlogMembers: number,
  alone: PriorityProbe[],
  behind: PriorityProbe[],
): Omit<PriorityResult, 'dynamodb'> {
  const a = stats(alone.map((p) => p.ms));
  const b = stats(behind.map((p) => p.ms));
  return {
    members,
    backlogMembers,
    alone: a,
    behindBacklog: b,
    backlogHeld: behind.length > 0 && behind.every((p) => (p.backlogRemaining ?? 0) > 0),
    ratio: b.median / a.median,
    probes: { alone, behindBacklog: behind },
  };
}
