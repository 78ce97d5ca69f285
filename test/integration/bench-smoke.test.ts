/**
 * The benchmark (bench/, `npm run bench`) in its quick mode, so it cannot rot: every scenario runs
 * against the local runtime with small sizes and the result must be complete. Structure only — no
 * timing assertions (times depend on the machine).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchmarkResult, runBenchmark } from '../../bench/benchmark';
import { costPerMillion, DEFAULT_PRICES } from '../../bench/cost';
import { expectedHandlerCalls, minimalSubmitCalls } from '../../bench/minimum';
import { ceilingModel, keyPattern, PartitionWrites, writeTargets } from '../../bench/partition-writes';
import { parseArgs } from '../../bench/run';
import { bundleSizesFrom, measureLoadTimes } from '../../bench/scenarios/bundles';
import { READ_ENDPOINTS } from '../../bench/scenarios/reads';
import { PER_1000, strictOrder } from '../../bench/scenarios/strict';
import { capacityOf, commandNameOf, transactWriteUnits } from '../../bench/sdk-counters';
import { buildRows, formatBundles, formatResult } from '../../bench/table';

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
    // 1 UpdateItem + 2 TransactWriteItems + 401 BatchWriteItem (members and 8 asset digests)
    // + 1,000 member and 10 task SendMessageBatch.
    expect(expectedHandlerCalls(10_000)).toEqual({
      dynamodb: { UpdateItem: 1, TransactWriteItems: 2, BatchWriteItem: 401 },
      sqs: { SendMessageBatch: 1_010 },
      total: 1_414,
    });
    // An Idempotency-Key adds its lookup.
    expect(expectedHandlerCalls(10_000, { idempotencyKey: true }).dynamodb.GetItem).toBe(1);
    expect(expectedHandlerCalls(10_000, { idempotencyKey: true }).total).toBe(1_415);
    expect(expectedHandlerCalls(20).total).toBe(1 + 2 + 2 + 2 + 1);
  });

  it('reads the partition key and write units of every write action, in either form', () => {
    const member = { pk: 'CUST#7#BATCH#000000000003#P5', sk: 'M#000001', state: 'waiting' };
    expect(
      writeTargets('BatchWriteItem', {
        RequestItems: { t: [{ PutRequest: { Item: member } }, { DeleteRequest: { Key: { pk: 'X', sk: 'y' } } }] },
      }),
    ).toEqual([
      { pk: member.pk, units: 1 },
      { pk: 'X', units: 1 },
    ]);
    // Transactional writes: 2 per KB; the wire form ({ S: … }) as well as the document client's.
    expect(
      writeTargets('TransactWriteItems', {
        TransactItems: [
          { Update: { TableName: 't', Key: { pk: { S: 'CUST#7#COUNTERS#3' }, sk: { S: 'COUNTERS' } } } },
          { Put: { TableName: 't', Item: { pk: 'CUST#7', sk: 'BATCH#1', v: 'x'.repeat(1500) } } },
        ],
      }),
    ).toEqual([
      { pk: 'CUST#7#COUNTERS#3', units: 2 },
      { pk: 'CUST#7', units: 4 },
    ]);
    expect(writeTargets('UpdateItem', { Key: { pk: 'CUST#7', sk: 'QUEUE' } })).toEqual([{ pk: 'CUST#7', units: 1 }]);
    expect(writeTargets('GetItem', { Key: { pk: 'CUST#7', sk: 'QUEUE' } })).toEqual([]);
    expect(new PartitionWrites().snapshot()).toEqual({});
  });

  it('names key patterns and models the ceiling from the busiest key', () => {
    expect(keyPattern('CUST#5000#BATCH#000000000003#COUNTERS#2')).toBe('CUST#c#BATCH#b#COUNTERS#s');
    expect(keyPattern('CUST#5000#BATCH#000000000003#P7')).toBe('CUST#c#BATCH#b#Pn');
    expect(keyPattern('CUST#5000#COUNTERS#0')).toBe('CUST#c#COUNTERS#s');
    expect(keyPattern('CUST#5000')).toBe('CUST#c');
    const load = (units: number) => ({ units, writes: units, conflicts: 0, throttles: 0 });
    const model = ceilingModel(
      {
        // Batch 1 (400 members): two member partitions, 2 units per member.
        'CUST#9#BATCH#000000000001#P0': load(400),
        'CUST#9#BATCH#000000000001#P1': load(400),
        // Batch 2 (100 members): one partition.
        'CUST#9#BATCH#000000000002#P0': load(200),
        // Customer-scoped: divided by the customer's 500 images.
        'CUST#9#COUNTERS#0': load(50),
        'CUST#9': load(10),
      },
      [
        { customer: 9, batch: 1, members: 400 },
        { customer: 9, batch: 2, members: 100 },
      ],
    );
    expect(model.binding?.pattern).toBe('CUST#c#BATCH#b#Pn');
    expect(model.binding?.scope).toBe('batch');
    expect(model.binding?.unitsPerImage).toBeCloseTo(2);
    expect(model.binding?.keys).toBe(3);
    expect(model.imagesPerSecond).toBeCloseTo(500);
    expect(model.patterns.map((p) => p.pattern)).toEqual(['CUST#c#BATCH#b#Pn', 'CUST#c#COUNTERS#s', 'CUST#c']);
    expect(model.patterns[1]?.unitsPerImage).toBeCloseTo(0.1);
    // As run: the busiest key's units over the customer's 500 images.
    expect(model.asRun.imagesPerSecond).toBeCloseTo(1_000 / (400 / 500));
  });

  it('alternates the strict runs so that a drift hits both modes alike', () => {
    expect(strictOrder(1)).toEqual(['withoutConflicts', 'withConflicts']);
    expect(strictOrder(2)).toEqual(['withoutConflicts', 'withConflicts', 'withConflicts', 'withoutConflicts']);
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
      Update: {
        TableName: 't',
        Key: { pk: 'a', sk: 'b' },
        UpdateExpression: expression,
        ...(names ? { ExpressionAttributeNames: names } : {}),
      },
    });
    // Two small updates touching no index key: 2 × 2.
    expect(transactWriteUnits({ TransactItems: [update('SET #s = :s', { '#s': 'state' }), update('ADD n :one')] })).toBe(4);
    // Setting gsi2 keys and removing gsi3 keys: 2 × (1 + 2 indexes).
    expect(transactWriteUnits({ TransactItems: [update('SET gsi2pk = :p, gsi2sk = :s REMOVE gsi3pk, gsi3sk')] })).toBe(6);
    // A put holding gsi1 keys, and a 2.5 KB put without index keys.
    expect(transactWriteUnits({ TransactItems: [{ Put: { TableName: 't', Item: { pk: 'a', sk: 'b', gsi1pk: 'x', gsi1sk: 'y' } } }] })).toBe(
      4,
    );
    expect(transactWriteUnits({ TransactItems: [{ Put: { TableName: 't', Item: { pk: 'a', sk: 'b', v: 'x'.repeat(2500) } } }] })).toBe(6);
  });

  it('parses the command line', () => {
    expect(parseArgs(['--quick', '--out', 'x.json', '--sizes', '20,100', '--reps', '2', '--price', 'sqsPerMillion=0.5'])).toEqual({
      out: 'x.json',
      options: { quick: true, sizes: [20, 100], reps: 2, prices: { sqsPerMillion: 0.5 } },
    });
    expect(
      parseArgs(['--strict-members', '50', '--strict-batches', '2', '--strict-priority', '10', '--strict-reps', '1', '--no-strict']),
    ).toEqual({
      options: { strictMembers: 50, strictBatches: 2, strictPriority: 10, strictReps: 1, strict: false },
    });
    expect(parseArgs(['--bundles-only', '--load-runs', '3'])).toEqual({ bundlesOnly: true, options: { loadRuns: 3 } });
    expect(() => parseArgs(['--reps', '0'])).toThrow();
    expect(() => parseArgs(['--price', 'nope=1'])).toThrow();
    expect(() => parseArgs(['--bogus'])).toThrow();
  });

  it("times each bundle's require in a fresh process, its asset folder alone, with the function's environment", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-assembly-'));
    try {
      const fn = (asset: string, nodeOptions: string) => ({
        Type: 'AWS::Lambda::Function',
        Metadata: { 'aws:asset:path': asset },
        Properties: { MemorySize: 256, Environment: { Variables: { NODE_OPTIONS: nodeOptions, LIMIT: '5', TABLE: { Ref: 'Table' } } } },
      });
      const template = { Resources: { FastABCDEF12: fn('asset.a', '--no-deprecation'), OtherABCDEF12: fn('asset.b', '') } };
      writeFileSync(join(dir, 'Stack.template.json'), JSON.stringify(template));
      for (const [asset, nodeOptions] of [
        ['asset.a', '--no-deprecation'],
        ['asset.b', ''],
      ]) {
        mkdirSync(join(dir, asset as string));
        // Loads only with the template's variables and none of the caller's, and needs its sibling file.
        const env = [
          `process.env.NODE_OPTIONS === ${JSON.stringify(nodeOptions)}`,
          "process.env.LIMIT === '5'",
          '!process.env.JEST_WORKER_ID',
        ].join(' && ');
        writeFileSync(
          join(dir, asset as string, 'index.js'),
          `if (!(${env})) throw new Error('not the function environment');\nrequire('./part.js');\n`,
        );
        writeFileSync(join(dir, asset as string, 'part.js'), 'module.exports = 1;\n');
      }
      const sizes = bundleSizesFrom(dir);
      expect(sizes.map((b) => [b.fn, b.nodeOptions, b.environment])).toEqual(
        expect.arrayContaining([
          ['Fast', '--no-deprecation', { NODE_OPTIONS: '--no-deprecation', LIMIT: '5' }],
          ['Other', '', { NODE_OPTIONS: '', LIMIT: '5' }],
        ]),
      );
      const measured = await measureLoadTimes(dir, sizes, 2);
      for (const b of measured) {
        expect(b.load?.runs).toBe(2);
        positive('require', b.load?.requireMs);
        finite('cpu', b.load?.cpuMs);
        expect(b.load!.processMs).toBeGreaterThan(b.load!.requireMs);
      }
      const text = formatBundles({ synthMs: 1, bundles: measured, largest: measured[0] }, 'v22.0.0');
      expect(text).toContain('fresh Node v22.0.0 process');
      expect(text).toContain('median of 2');
      expect(text).toContain('NODE_OPTIONS --no-deprecation, none');
      expect(text).toMatch(
        /\| Fast: minified index\.js; cold-start load +\| +[\d.]+ KiB; \d+ ms \(CPU \d+ ms\) \/ \d+ ms \| ≤ 1024 KiB +\| PASS/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prices a million images from per-member figures', () => {
    const model = costPerMillion({
      batchSize: 1_000,
      submit: { writeUnits: 2, readUnits: 0, sqsRequests: 0.1, handlerMs: 1, authorizerMsPerRequest: 10 },
      processing: {
        writeUnits: 2,
        readUnits: 1,
        sqsRequests: 0.2,
        processorInvocations: 0.1,
        tasksInvocations: 0.01,
        processorMs: 10,
        tasksMs: 1,
      },
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
      // Members and their batch's asset digests.
      expect(s.calls.dynamodb.BatchWriteItem).toBe(Math.ceil((n + Math.min(8, n)) / 25));
      // The handler issues exactly what minimum.ts expects of it (no Idempotency-Key: no GetItem).
      expect(s.expected).toEqual(expectedHandlerCalls(n));
      expect(s.calls.dynamodb).toEqual(s.expected.dynamodb);
      expect(s.calls.sqs).toEqual(s.expected.sqs);
      expect(s.matchesExpected).toBe(true);
      expect(s.calls.sqs.SendMessageBatch).toBeGreaterThanOrEqual(Math.ceil(n / 10));
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
    expect(p.pollers.main?.records).toBeGreaterThanOrEqual(p.members);

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

  it('measures the 31-day load query for one customer, with and without the other customers', () => {
    const l = result.load;
    expect(l.items.measured).toBe(l.seed.days * l.seed.measuredPerDay);
    expect(l.items.others).toBe((l.seed.customers - 1) * l.seed.days * l.seed.othersPerDay);
    for (const queries of [l.alone, l.withOthers]) {
      for (const m of [queries.customer, queries.customerDeepPage, queries.admin]) {
        expect(m.status).toBe(200);
        positive(`${m.path} read units`, m.readUnits);
        // One partition per day of the range, of one series only.
        expect(m.partitions).toHaveLength(l.seed.days);
        expect(new Set(m.partitions.map((p) => p.split('#')[1])).size).toBe(1);
      }
      expect(queries.customer.count).toBe(l.items.measured);
      expect(queries.admin.count).toBe(l.items.all);
      expect(queries.admin.partitions.every((p) => p.startsWith('LOAD#ALL#'))).toBe(true);
    }
    positive('bound', l.bound.customer);
    expect(l.independent).toBe(true);
    const ids = result.targets.map((t) => t.id);
    for (const id of ['load.customerReadUnits', 'load.adminReadUnits', 'load.independent']) expect(ids).toContain(id);
  });

  it('processes the same workload without and with conflicts, and models the AWS ceiling', () => {
    const strict = result.strict;
    if ('skipped' in strict) throw new Error(`strict section skipped: ${strict.skipped}`);
    const settings = result.meta.settings;
    const members = settings.strictBatches * settings.strictMembers + settings.strictPriority;
    expect(strict.workload.members).toBe(members);
    expect(strict.runs.map((r) => r.mode)).toEqual(strictOrder(settings.strictReps));
    for (const run of strict.runs) {
      expect(run.batches).toHaveLength(settings.strictBatches + 1);
      expect(run.batches.filter((b) => b.queue === 'priority')).toHaveLength(1);
      expect(run.completed + run.errors).toBe(members);
      expect(run.sizeAfter).toBe(0);
      positive(`${run.mode} members/s`, run.membersPerSecond);
    }
    for (const mode of [strict.withoutConflicts, strict.withConflicts]) {
      expect(mode.runs).toBe(settings.strictReps);
      expect(mode.members).toBe(members * settings.strictReps);
      positive('members/s', mode.membersPerSecond);
      for (const k of PER_1000) expect(finite(k, mode.per1000[k])).toBeGreaterThanOrEqual(0);
      expect(mode.dynamodb.calls).toBeGreaterThan(0);
    }
    // Without conflicts the handlers bypass the proxy; with them every call goes through it.
    expect(strict.withoutConflicts.options).toBeNull();
    expect(strict.withoutConflicts.stats.requests).toBe(0);
    expect(strict.withConflicts.options).toMatchObject({ conflictWindowMs: 20, throttleRate: 0.02, errorRate: 0.004 });
    expect(strict.withConflicts.stats.requests).toBeGreaterThan(strict.withConflicts.dynamodb.calls / 2);
    positive('ratio', strict.ratio);
    expect(strict.ratio).toBeCloseTo(strict.withConflicts.membersPerSecond / strict.withoutConflicts.membersPerSecond);
    expect(strict.cancelledPer1000).toBe(strict.withConflicts.per1000.transactionConflicts);

    const ceiling = strict.ceiling;
    expect(ceiling.limitPerKey).toBe(1_000);
    positive('ceiling', ceiling.processing.imagesPerSecond);
    const binding = ceiling.processing.binding!;
    expect(binding.pattern).toMatch(/^CUST#c/);
    expect(binding.unitsPerImage).toBeGreaterThan(0);
    // A member's processing writes it once or twice (2 units each) plus its share of counter updates.
    expect(binding.unitsPerImage).toBeLessThanOrEqual(4);
    expect(ceiling.processing.imagesPerSecond).toBeCloseTo(1_000 / binding.unitsPerImage);
    expect(ceiling.processing.patterns.length).toBeGreaterThanOrEqual(3);
    const perImage = ceiling.processing.patterns.map((p) => p.unitsPerImage);
    expect(perImage).toEqual([...perImage].sort((a, b) => b - a));
    // The member items and the batch counter shards are written, per batch.
    expect(ceiling.processing.patterns.some((p) => p.pattern.startsWith('CUST#c#BATCH#b') && !p.pattern.includes('COUNTERS'))).toBe(true);
    expect(ceiling.processing.patterns.find((p) => p.pattern === 'CUST#c#BATCH#b#COUNTERS')?.scope).toBe('batch');
    // Writing the members too can only load the keys more.
    expect(ceiling.withSubmit.imagesPerSecond).toBeLessThanOrEqual(ceiling.processing.imagesPerSecond + 1e-9);
    positive('ceiling with submit', ceiling.withSubmit.imagesPerSecond);
    positive('ceiling as run', ceiling.processing.asRun.imagesPerSecond);
    expect(ceiling.shards.customer).toBeGreaterThan(0);
  });

  it('prices a million images and checks every target', () => {
    // The cost's inputs come from the submit and processing scenarios, not the strict section.
    expect(result.cost.inputs.processing.writeUnits).toBe(result.processing.perMember.writeUnits);
    expect(result.cost.inputs.processing.readUnits).toBe(result.processing.perMember.readUnits);
    expect(result.cost.inputs.processing.sqsRequests).toBe(result.processing.perMember.sqsRequests);
    expect(result.bundles).toEqual({ skipped: true });
    for (const line of result.cost.lines) finite(line.item, line.usd);
    positive('cost per million', result.cost.totalPerMillion);
    positive('cost per million (serial duration)', result.costSerialDuration.totalPerMillion);
    const ids = result.targets.map((t) => t.id);
    for (const n of result.meta.settings.sizes) {
      expect(ids).toContain(`submit.callsOverMinimum.${n}`);
      expect(ids).toContain(`submit.handlerOverBare.${n}`);
    }
    for (const id of [
      'submit.largestBatch',
      'processing.writeUnitsPerMember',
      'priority.ratio',
      'strict.ratio',
      'strict.ceiling',
      'cost.perMillion',
    ]) {
      expect(ids).toContain(id);
    }
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
    expect(text).toContain('members/s with conflicts ÷ without');
    expect(text).toContain('AWS ceiling');
    expect(text).toMatch(/PASS|MISS/);
  });
});
