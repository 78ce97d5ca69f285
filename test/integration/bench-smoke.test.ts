/**
 * The benchmark (bench/, `npm run bench`) in its quick mode, so it cannot rot: every scenario runs
 * against the local runtime with small sizes and the result must be complete. Structure only — no
 * timing assertions (times depend on the machine).
 */
import { runBenchmark, type BenchmarkResult } from '../../bench/benchmark';
import { costPerMillion, DEFAULT_PRICES } from '../../bench/cost';
import { expectedHandlerCalls, minimalSubmitCalls } from '../../bench/minimum';
import { parseArgs } from '../../bench/run';
import { READ_ENDPOINTS } from '../../bench/scenarios/reads';
import { capacityOf, commandNameOf, transactWriteUnits } from '../../bench/sdk-counters';
import { buildRows, formatResult } from '../../bench/table';

jest.setTimeout(300_000);

const finite = (what: string, n: unknown) => {
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`${what} is not a finite number: ${String(n)}`);
  return n;
};
const positive = (what: string, n: unknown) => {
  expect(finite(what, n)).toBeGreaterThan(0);
};

describe('benchmark building blocks', () => {
  it('computes the minimum as ⌈n/25⌉ BatchWriteItem + ⌈n/10⌉ SendMessageBatch + 3 constant writes', () => {
    for (const n of [1, 20, 25, 26, 100, 1_000, 9_999, 10_000]) {
      const m = minimalSubmitCalls(n);
      expect(m.dynamodb).toEqual({ UpdateItem: 1, TransactWriteItems: 2, BatchWriteItem: Math.ceil(n / 25) });
      expect(m.sqs).toEqual({ SendMessageBatch: Math.ceil(n / 10) });
      expect(m.total).toBe(Math.ceil(n / 25) + Math.ceil(n / 10) + 3);
    }
    expect(minimalSubmitCalls(10_000).total).toBe(1_403);
    expect(expectedHandlerCalls(10_000).total).toBe(1_415);
  });

  it('sums ConsumedCapacity whether it is an object or an array', () => {
    expect(capacityOf('PutItem', { TableName: 't', CapacityUnits: 2 })).toEqual({ read: 0, write: 2 });
    expect(capacityOf('Query', { CapacityUnits: 0.5 })).toEqual({ read: 0.5, write: 0 });
    expect(capacityOf('TransactWriteItems', [{ CapacityUnits: 4 }, { CapacityUnits: 2 }])).toEqual({ read: 0, write: 6 });
    expect(capacityOf('BatchGetItem', [{ ReadCapacityUnits: 3, CapacityUnits: 3 }])).toEqual({ read: 3, write: 0 });
    expect(capacityOf('GetItem', undefined)).toEqual({ read: 0, write: 0 });
    expect(commandNameOf('TransactWriteItemsCommand')).toBe('TransactWriteItems');
  });

  it('prices a transaction by its items and the index entries it writes (DynamoDB Local does not)', () => {
    const update = (expression: string, names?: Record<string, string>) => ({
      Update: { TableName: 't', Key: { pk: 'a', sk: 'b' }, UpdateExpression: expression, ...(names ? { ExpressionAttributeNames: names } : {}) },
    });
    // Two small updates touching no index key: 2 × 2.
    expect(transactWriteUnits({ TransactItems: [update('SET #s = :s', { '#s': 'state' }), update('ADD n :one')] })).toBe(4);
    // Setting gsi2 keys and removing gsi3 keys: 2 × (1 + 2 indexes).
    expect(transactWriteUnits({ TransactItems: [update('SET gsi2pk = :p, gsi2sk = :s REMOVE gsi3pk, gsi3sk')] })).toBe(6);
    // A put holding gsi1 keys, and a 2.5 KB put without index keys.
    expect(transactWriteUnits({ TransactItems: [{ Put: { TableName: 't', Item: { pk: 'a', sk: 'b', gsi1pk: 'x', gsi1sk: 'y' } } }] })).toBe(4);
    expect(transactWriteUnits({ TransactItems: [{ Put: { TableName: 't', Item: { pk: 'a', sk: 'b', v: 'x'.repeat(2500) } } }] })).toBe(6);
  });

  it('parses the command line', () => {
    expect(parseArgs(['--quick', '--out', 'x.json', '--sizes', '20,100', '--reps', '2', '--price', 'sqsPerMillion=0.5'])).toEqual({
      out: 'x.json',
      options: { quick: true, sizes: [20, 100], reps: 2, prices: { sqsPerMillion: 0.5 } },
    });
    expect(() => parseArgs(['--reps', '0'])).toThrow();
    expect(() => parseArgs(['--price', 'nope=1'])).toThrow();
    expect(() => parseArgs(['--bogus'])).toThrow();
  });

  it('prices a million images from per-member figures', () => {
    const model = costPerMillion({
      batchSize: 1_000,
      submit: { writeUnits: 2, readUnits: 0, sqsRequests: 0.1, handlerMs: 1, authorizerMsPerRequest: 10 },
      processing: { writeUnits: 2, readUnits: 1, sqsRequests: 0.2, processorInvocations: 0.1, tasksInvocations: 0.01, processorMs: 10, tasksMs: 1 },
    });
    expect(model.lines.find((l) => l.item === 'DynamoDB writes')?.usd).toBeCloseTo(4 * DEFAULT_PRICES.dynamoWritePerMillion);
    expect(model.lines.find((l) => l.item === 'SQS requests')?.usd).toBeCloseTo(0.3 * DEFAULT_PRICES.sqsPerMillion);
    expect(model.totalPerMillion).toBeCloseTo(Object.values(model.byService).reduce((a, b) => a + b, 0));
  });
});

describe('npm run bench --quick', () => {
  let result: BenchmarkResult;

  beforeAll(async () => {
    result = await runBenchmark({ quick: true });
  });

  it('measures every submit size against the minimum and the bare script', () => {
    expect(result.submit.sizes.map((s) => s.members)).toEqual(result.meta.settings.sizes);
    for (const s of result.submit.sizes) {
      const n = s.members;
      positive('handler ms', s.handlerMs.median);
      positive('inside-handler ms', s.insideHandlerMs.median);
      positive('bare ms', s.bareMs.median);
      positive('calls / minimum', s.callsOverMinimum);
      positive('handler / bare', s.handlerOverBare);
      positive('body bytes per member', s.bodyBytesPerMember);
      positive('write units', s.writeUnits);
      expect(s.calls.total).toBeGreaterThan(0);
      expect(s.calls.dynamodb['BatchWriteItem']).toBe(Math.ceil(n / 25));
      expect(s.calls.sqs['SendMessageBatch']).toBeGreaterThanOrEqual(Math.ceil(n / 10));
      expect(s.minimum).toEqual(minimalSubmitCalls(n));
      expect(s.minimum.total).toBe(Math.ceil(n / 25) + Math.ceil(n / 10) + 3);
      // The bare script issues exactly the minimum.
      expect(s.bareCalls).toBe(s.minimum.total);
      expect(s.callsOverMinimum).toBeCloseTo(s.calls.total / s.minimum.total);
    }
    const limit = result.submit.limit;
    positive('largest batch by body limit', limit.byBodyLimit);
    positive('largest batch by Lambda payload', limit.byLambdaPayload);
    positive('largest batch', limit.largest);
    finite('ms per member', limit.msPerMember);
    finite('fixed ms', limit.fixedMs);
    positive('share of the body limit', limit.largestMeasured.bodyFraction);
  });

  it('measures processing, the transaction rate and the priority probes', () => {
    const p = result.processing;
    expect(p.completed + p.errors).toBe(p.members);
    positive('members/s', p.membersPerSecond);
    positive('transactions/s', p.transactionRate.perSecond);
    positive('members/s ÷ transactions/s', p.overTransactionRate);
    positive('write units per member', p.perMember.writeUnits);
    positive('SQS requests per member', p.perMember.sqsRequests);
    positive('Lambda invocations per member', p.perMember.lambdaInvocations);
    expect(p.dynamodb.calls).toBeGreaterThan(0);
    expect(p.pollers['main']?.records).toBeGreaterThanOrEqual(p.members);

    const q = result.priority;
    expect(q.probes.alone).toHaveLength(result.meta.settings.priorityReps);
    expect(q.probes.behindBacklog).toHaveLength(result.meta.settings.priorityReps);
    positive('priority alone', q.alone.median);
    positive('priority behind', q.behindBacklog.median);
    positive('priority ratio', q.ratio);
  });

  it('measures every read at both sizes', () => {
    const sizes = result.submit.sizes.map((s) => s.members);
    expect(result.reads.measures).toHaveLength(READ_ENDPOINTS.length * 2);
    for (const m of result.reads.measures) {
      expect([Math.min(...sizes), Math.max(...sizes)]).toContain(m.members);
      expect(m.status).toBe(200);
      expect(m.dynamoCalls).toBeGreaterThan(0);
      positive(`${m.endpoint} read units`, m.readUnits);
    }
    expect(Object.keys(result.reads.independent).sort()).toEqual([...READ_ENDPOINTS].sort());
  });

  it('prices a million images and checks every target', () => {
    expect(result.bundles).toEqual({ skipped: true });
    for (const line of result.cost.lines) finite(line.item, line.usd);
    positive('cost per million', result.cost.totalPerMillion);
    positive('cost per million (serial duration)', result.costSerialDuration.totalPerMillion);
    const ids = result.targets.map((t) => t.id);
    for (const n of result.meta.settings.sizes) {
      expect(ids).toContain(`submit.callsOverMinimum.${n}`);
      expect(ids).toContain(`submit.handlerOverBare.${n}`);
    }
    for (const id of ['submit.largestBatch', 'processing.writeUnitsPerMember', 'priority.ratio', 'cost.perMillion']) expect(ids).toContain(id);
    for (const t of result.targets) {
      expect(typeof t.pass).toBe('boolean');
      expect(t.target).not.toBe('');
    }
  });

  it('prints one table with a status for every target', () => {
    const rows = buildRows(result);
    expect(rows.filter((r) => r.status).length).toBe(result.targets.length);
    const text = formatResult(result);
    expect(text).toContain('| Scenario');
    expect(text).toContain(`Submit ${result.meta.settings.sizes[0]}`);
    expect(text).toMatch(/PASS|MISS/);
  });
});
