/**
 * Scenario 4 — reads: what one GET costs in DynamoDB calls and read units, for a small and a large
 * batch (the submit scenario's batches, still waiting), so that any cost growing with batch size
 * shows. Collection pages ask for the same page size at every batch size.
 */
import { type Harness, type Stats, stats } from '../harness';
import { totalsOf } from '../sdk-counters';

export interface ReadTarget {
  members: number;
  customer: number;
  batch: number;
}

export const READ_ENDPOINTS = ['GET batch', 'GET customer queue', 'GET batch images (1 page)', 'GET queue images (1 page)'] as const;
export type ReadEndpoint = (typeof READ_ENDPOINTS)[number];

export interface ReadMeasure {
  endpoint: ReadEndpoint;
  members: number;
  path: string;
  status: number;
  /** Per request (the largest seen over the repetitions). */
  dynamoCalls: number;
  readUnits: number;
  itemsReturned: number;
  ms: Stats;
}

export interface ReadsResult {
  pageSize: number;
  measures: ReadMeasure[];
  /** Per endpoint: calls and read units at the largest batch ≤ those at the smallest. */
  independent: Record<ReadEndpoint, boolean>;
}

const READ_TAGS = ['api-read', 'authorizer'];

function pathOf(endpoint: ReadEndpoint, t: ReadTarget, pageSize: number): string {
  const c = `/customers/${t.customer}/queue`;
  switch (endpoint) {
    case 'GET batch':
      return `${c}/batches/${t.batch}`;
    case 'GET customer queue':
      return c;
    case 'GET batch images (1 page)':
      return `${c}/batches/${t.batch}/images?pageSize=${pageSize}`;
    case 'GET queue images (1 page)':
      return `${c}/images?pageSize=${pageSize}`;
  }
}

export async function runReadsScenario(h: Harness, targets: readonly ReadTarget[], pageSize: number, reps = 3): Promise<ReadsResult> {
  await h.quiesce();
  const measures: ReadMeasure[] = [];
  for (const target of targets) {
    for (const endpoint of READ_ENDPOINTS) {
      const path = pathOf(endpoint, target, pageSize);
      const times: number[] = [];
      let dynamoCalls = 0;
      let readUnits = 0;
      let status = 0;
      let itemsReturned = 0;
      for (let rep = 0; rep < reps; rep++) {
        h.resetCounts();
        const answer = await h.get<{ member?: unknown[] }>(path);
        status = answer.status;
        if (status !== 200) throw new Error(`${path} answered ${status}: ${JSON.stringify(answer.json).slice(0, 300)}`);
        itemsReturned = Array.isArray(answer.json?.member) ? answer.json.member.length : 1;
        times.push(answer.ms);
        const dynamo = totalsOf(h.counters.snapshot(), 'dynamodb', READ_TAGS);
        dynamoCalls = Math.max(dynamoCalls, dynamo.calls);
        readUnits = Math.max(readUnits, dynamo.readUnits);
      }
      measures.push({ endpoint, members: target.members, path, status, dynamoCalls, readUnits, itemsReturned, ms: stats(times) });
    }
  }
  const sizes = targets.map((t) => t.members);
  const smallest = Math.min(...sizes);
  const largest = Math.max(...sizes);
  const independent = Object.fromEntries(
    READ_ENDPOINTS.map((endpoint) => {
      const at = (members: number) => measures.find((m) => m.endpoint === endpoint && m.members === members);
      const small = at(smallest);
      const large = at(largest);
      return [endpoint, Boolean(small && large && large.dynamoCalls <= small.dynamoCalls && large.readUnits <= small.readUnits + 1e-9)];
    }),
  ) as Record<ReadEndpoint, boolean>;
  return { pageSize, measures, independent };
}
