/**
 * The printed form of a benchmark result: one table (Markdown-compatible, columns aligned) with the
 * figures of every scenario, the targets next to the figures they apply to, and PASS / MISS.
 */
import type { BenchmarkResult } from './benchmark';
import type { BundlesResult } from './scenarios/bundles';
import type { StrictModeSummary, StrictResult } from './scenarios/strict';
import { totalsOf } from './sdk-counters';
import { bundleChecks, type TargetCheck } from './targets';

export interface Row {
  scenario: string;
  figure: string;
  value: string;
  target?: string;
  status?: 'PASS' | 'MISS';
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n));
const dec = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : String(n));
const ms = (n: number) => (n >= 10_000 ? `${dec(n / 1000, 1)} s` : `${int(n)} ms`);
const pct = (n: number) => `${dec(n * 100, 0)}%`;
const usd = (n: number) => `$${n < 0.01 && n > 0 ? n.toPrecision(2) : dec(n)}`;
const commands = (byCommand: Record<string, number>) =>
  Object.entries(byCommand)
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c} ${int(n)}`)
    .join(', ');
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** Rows, and the function adding one (with its target and status when `checkId` names a check). */
function rowsWith(targets: readonly TargetCheck[]): { rows: Row[]; add: Add } {
  const checks = new Map<string, TargetCheck>(targets.map((c) => [c.id, c]));
  const rows: Row[] = [];
  const add: Add = (scenario, figure, value, checkId) => {
    const check = checkId ? checks.get(checkId) : undefined;
    rows.push({ scenario, figure, value, ...(check ? { target: check.target, status: check.pass ? 'PASS' : 'MISS' } : {}) });
  };
  return { rows, add };
}

export function buildRows(r: BenchmarkResult): Row[] {
  const { rows, add } = rowsWith(r.targets);

  // 1. Submit
  for (const s of r.submit.sizes) {
    const name = `Submit ${int(s.members)}`;
    add(
      name,
      `wall time, median of ${s.repetitions} (min–max)`,
      `${ms(s.handlerMs.median)} (${ms(s.handlerMs.min)}–${ms(s.handlerMs.max)})`,
    );
    add(name, `DynamoDB calls: ${commands(s.calls.dynamodb)}`, int(sum(s.calls.dynamodb)));
    add(name, `SQS calls: ${commands(s.calls.sqs)}`, int(sum(s.calls.sqs)));
    add(name, `calls as minimum.ts expects of the handler (${int(s.expected.total)})`, s.matchesExpected ? 'yes' : 'no');
    add(
      name,
      `calls / minimum (${int(s.calls.total)} / ${int(s.minimum.total)})`,
      dec(s.callsOverMinimum, 3),
      `submit.callsOverMinimum.${s.members}`,
    );
    add(name, `bare script, minimal calls only: median (min–max)`, `${ms(s.bareMs.median)} (${ms(s.bareMs.min)}–${ms(s.bareMs.max)})`);
    add(name, 'handler time / bare time', dec(s.handlerOverBare), `submit.handlerOverBare.${s.members}`);
    add(name, 'DynamoDB write / read units per POST', `${int(s.writeUnits)} / ${int(s.readUnits)}`);
  }
  const l = r.submit.limit;
  const big = r.submit.sizes.find((s) => s.members === l.largestMeasured.members);
  if (big)
    add(
      'Submit',
      'body bytes per member: raw / JSON-escaped in the Lambda event',
      `${dec(big.bodyBytesPerMember, 0)} B / ${dec(big.eventBytesPerMember, 0)} B`,
    );
  add('Submit', 'time per member (least-squares fit) + fixed', `${dec(l.msPerMember, 3)} ms + ${int(l.fixedMs)} ms`);
  add(
    'Submit',
    `${int(l.largestMeasured.members)} members: share of body limit / 6 MB payload / 29 s`,
    `${pct(l.largestMeasured.bodyFraction)} / ${pct(l.largestMeasured.payloadFraction)} / ${pct(l.largestMeasured.timeFraction)}`,
  );
  add(
    'Submit',
    `largest batch that fits (body ${int(l.byBodyLimit)}, payload ${int(l.byLambdaPayload)}, time ${int(l.byTime)})`,
    int(l.largest),
    'submit.largestBatch',
  );

  // 2. Processing
  const p = r.processing;
  const name = `Processing ${int(p.members)}`;
  add(
    name,
    `members/s (${p.mainPollers} main pollers; ${int(p.completed)} completed, ${int(p.errors)} errors in ${ms(p.elapsedMs)})`,
    dec(p.membersPerSecond, 1),
  );
  add(name, `emulator 2-item TransactWriteItems/s (${p.transactionRate.inFlight} in flight)`, dec(p.transactionRate.perSecond, 1));
  add(name, 'members/s ÷ 2-item transactions/s', dec(p.overTransactionRate));
  add(name, 'DynamoDB write units per member', dec(p.perMember.writeUnits, 3), 'processing.writeUnitsPerMember');
  add(name, 'same, as DynamoDB Local reports them (a flat 4 per transaction)', dec(p.dynamodb.emulatorWriteUnits / p.members, 3));
  add(name, 'DynamoDB read units per member', dec(p.perMember.readUnits, 3));
  add(name, `DynamoDB calls per member (${commands(p.dynamodb.byCommand)})`, dec(p.perMember.dynamoCalls, 3));
  add(name, 'SQS requests per member (handlers + event source receive/delete)', dec(p.perMember.sqsRequests, 3));
  add(name, 'Lambda invocations per member (processors + tasks)', dec(p.perMember.lambdaInvocations, 3));
  for (const [tag, v] of Object.entries(p.perMember.handlerMs)) add(name, `${tag} handler time per member`, `${dec(v, 1)} ms`);

  // 3. Strict mode (issue 10)
  if ('skipped' in r.strict) add('Strict', 'strict-mode section', `skipped (${r.strict.skipped})`);
  else strictRows(r.strict, add);

  // 4. Priority
  const q = r.priority;
  add('Priority', `${q.members} members alone: median (min–max)`, `${ms(q.alone.median)} (${ms(q.alone.min)}–${ms(q.alone.max)})`);
  add(
    'Priority',
    `${q.members} members behind a ${int(q.backlogMembers)} main backlog${q.backlogHeld ? '' : ' (backlog drained before the end)'}`,
    `${ms(q.behindBacklog.median)} (${ms(q.behindBacklog.min)}–${ms(q.behindBacklog.max)})`,
  );
  add('Priority', 'behind backlog / alone', dec(q.ratio), 'priority.ratio');
  const failed = (t: { byCommand: Record<string, number>; errors: number; calls: number }) => `${int(t.errors)} of ${int(t.calls)}`;
  add(
    'Priority',
    'priority processor DynamoDB calls failed (conflicts, conditions): alone / behind',
    `${failed(q.dynamodb.alone)} / ${failed(q.dynamodb.behindBacklog)}`,
  );
  const latency = (t: { ms: number; calls: number }) => `${dec(t.calls ? t.ms / t.calls : NaN, 1)} ms`;
  add(
    'Priority',
    'mean DynamoDB call latency: priority alone / priority behind / main processor',
    `${latency(q.dynamodb.alone)} / ${latency(q.dynamodb.behindBacklog)} / ` +
      `${latency(totalsOf(p.counts, 'dynamodb', ['process-images:main']))}`,
  );

  // 5. Reads
  for (const m of r.reads.measures) {
    add(`Read ${int(m.members)}`, `${m.endpoint}: DynamoDB calls / read units`, `${m.dynamoCalls} / ${dec(m.readUnits, 1)}`);
  }
  for (const endpoint of Object.keys(r.reads.independent)) {
    add(
      'Reads',
      `${endpoint}: cost independent of batch size`,
      r.reads.independent[endpoint as keyof typeof r.reads.independent] ? 'yes' : 'no',
      `reads.independent.${endpoint}`,
    );
  }
  loadRows(r.load, add);

  // 6. Bundles
  if ('skipped' in r.bundles) add('Bundles', 'cdk synth', 'skipped (--quick without --bundles)');
  else bundleRows(r.bundles, r.meta.node, add);

  // 7. Cost
  for (const line of r.cost.lines) {
    add('Cost/1M', `${line.item}: ${int(line.quantityPerMillion)} ${line.unit}`, usd(line.usd));
  }
  add('Cost/1M', `total per million images (batches of ${int(r.cost.inputs.batchSize)})`, usd(r.cost.totalPerMillion), 'cost.perMillion');
  add('Cost/1M', 'total with processor duration = elapsed time per member', usd(r.costSerialDuration.totalPerMillion));
  return rows;
}

type Add = (scenario: string, figure: string, value: string, checkId?: string) => void;

function bundleRows(b: BundlesResult, node: string, add: Add): void {
  const measured = b.bundles.filter((x) => x.load);
  if (measured.length) {
    const options = [...new Set(measured.map((x) => x.nodeOptions || 'none'))].join(', ');
    add(
      'Bundles',
      `cold-start load, median of ${measured[0]!.load!.runs}: require of index.js (its CPU time) / whole process; ` +
        `fresh Node ${node} process, asset folder alone, NODE_OPTIONS ${options}`,
      '',
    );
  }
  for (const x of b.bundles) {
    const size = `${dec(x.bytes / 1024, 1)} KiB`;
    const load = x.load ? `; ${int(x.load.requireMs)} ms (CPU ${int(x.load.cpuMs)} ms) / ${int(x.load.processMs)} ms` : '';
    add('Bundles', `${x.fn}: minified index.js${x.load ? '; cold-start load' : ''}`, `${size}${load}`, `bundles.${x.fn}`);
  }
}

/** The table of a run of the bundles scenario alone (`npm run bench -- --bundles-only`). */
export function formatBundles(b: BundlesResult, node = process.version): string {
  const { rows, add } = rowsWith(bundleChecks(b));
  bundleRows(b, node, add);
  return `${formatRows(rows)}\n\ncdk synth ${dec(b.synthMs / 1000, 1)} s; ${b.bundles.length} functions`;
}

function loadRows(l: BenchmarkResult['load'], add: Add): void {
  const name = `Load ${l.seed.customers}×${l.seed.days}d`;
  const kb = (n: number) => `${dec(n / 1024, 1)} KB`;
  add(
    name,
    `seeded: one customer ${int(l.items.measured)} samples (${kb(l.bytes.measured)}), ` +
      `all-customer sums ${int(l.items.all)} (${kb(l.bytes.all)}), ` +
      `${l.seed.customers - 1} others ${int(l.items.others)} (in ${ms(l.seedMs)})`,
    '',
  );
  const pair = (a: number, b: number) => `${dec(a, 1)} → ${dec(b, 1)}`;
  const row = (what: string, key: keyof typeof l.alone, checkId?: string) =>
    add(
      name,
      `${what}: read units alone → with the others ` +
        `(${l.withOthers[key].dynamoCalls} calls, ${l.withOthers[key].partitions.length} partitions)`,
      pair(l.alone[key].readUnits, l.withOthers[key].readUnits),
      checkId,
    );
  row('31-day query, one customer, page 1', 'customer', 'load.customerReadUnits');
  row('31-day query, one customer, a middle page', 'customerDeepPage');
  row('31-day query, admin, all customers', 'admin', 'load.adminReadUnits');
  add(name, "read units and partitions unchanged by the other customers' samples", l.independent ? 'yes' : 'no', 'load.independent');
}

/** 0.004 → `0.4%`. */
const share = (n: number) => `${Number((n * 100).toFixed(2))}%`;
const perSecond = (n: number) => (Number.isFinite(n) ? int(n) : '∞');

function strictRows(s: StrictResult, add: Add): void {
  const w = s.workload;
  const name = `Strict ${w.mainBatches}×${int(w.mainMembers)}+${int(w.priorityMembers)}`;
  const mode = (x: StrictModeSummary, label: string) =>
    add(
      name,
      `members/s ${label} (${x.runs} run${x.runs > 1 ? 's' : ''}: ${x.perRun.map((v) => dec(v, 1)).join(', ')}; ` +
        `${int(x.completed)} completed, ${int(x.errors)} errors in ${ms(x.elapsedMs)})`,
      dec(x.membersPerSecond, 1),
    );
  const o = s.withConflicts.options;
  add(
    name,
    'one customer, all batches submitted together, then processed by',
    `${s.pollers.main} main + ${s.pollers.priority} priority + ${s.pollers.tasks} tasks pollers`,
  );
  mode(s.withoutConflicts, 'without conflicts (straight to DynamoDB Local)');
  mode(
    s.withConflicts,
    o
      ? `with conflicts (proxy: window ${o.conflictWindowMs} ms, throttles ${share(o.throttleRate)}, 500s ${share(o.errorRate)})`
      : 'with conflicts',
  );
  add(name, 'members/s with conflicts ÷ without', dec(s.ratio), 'strict.ratio');
  const p = s.withConflicts.per1000;
  add(name, 'with conflicts, per 1,000 members: cancelled transactions (TransactionConflict)', dec(p.transactionConflicts, 1));
  add(
    name,
    'with conflicts, per 1,000 members: write conflicts / key throttles / random throttles / 500s after apply',
    `${dec(p.writeConflicts, 1)} / ${dec(p.keyThrottles, 1)} / ${dec(p.randomThrottles, 1)} / ${dec(p.errorsAfterApply, 1)}`,
  );
  const refused = [...s.ceiling.processing.patterns]
    .filter((x) => x.conflicts + x.throttles > 0)
    .sort((a, b) => b.conflicts + b.throttles - (a.conflicts + a.throttles));
  add(
    name,
    `with conflicts, refused write actions by key pattern (conflicts+throttles): ${
      refused
        .slice(0, 3)
        .map((x) => `${x.pattern} ${int(x.conflicts)}+${int(x.throttles)}`)
        .join(', ') || 'none'
    }`,
    int(refused.reduce((a, x) => a + x.conflicts + x.throttles, 0)),
  );
  const calls = (x: StrictModeSummary) =>
    `${dec(x.dynamodb.calls / x.members, 2)} (${dec((x.dynamodb.errors / x.members) * 1000, 0)}‰ failed)`;
  add(name, 'DynamoDB calls per member (failed): without / with conflicts', `${calls(s.withoutConflicts)} / ${calls(s.withConflicts)}`);
  const failures = (x: StrictModeSummary) => commands(x.failedByCommand) || 'none';
  add(name, `failed DynamoDB calls by command: without: ${failures(s.withoutConflicts)}; with: ${failures(s.withConflicts)}`, '');
  add(
    name,
    'submit of the workload (concurrent POSTs), mean: without / with conflicts',
    `${ms(s.withoutConflicts.submitMs)} / ${ms(s.withConflicts.submitMs)}`,
  );
  add(
    name,
    'queue size left after the runs: without / with conflicts',
    `${int(s.withoutConflicts.sizeAfter)} / ${int(s.withConflicts.sizeAfter)}`,
  );

  const c = s.ceiling;
  const ceilingName = 'AWS ceiling';
  const b = c.processing.binding;
  const binding = b ? `${b.pattern}, ${dec(b.unitsPerImage, 3)} units/image` : 'none';
  add(
    ceilingName,
    `images/s per customer before a key passes ${int(c.limitPerKey)} WCU/s (binding: ${binding})`,
    perSecond(c.processing.imagesPerSecond),
    'strict.ceiling',
  );
  for (const [i, x] of c.processing.patterns.slice(0, 3).entries()) {
    add(
      ceilingName,
      `#${i + 1} ${x.pattern} (${x.scope}, ${int(x.keys)} keys): write units per image (ceiling)`,
      `${dec(x.unitsPerImage, 3)} (${perSecond(x.ceiling)}/s)`,
    );
  }
  const ws = c.withSubmit.binding;
  add(
    ceilingName,
    'with the submit side (members written, then processed; ' +
      `binding ${ws?.pattern ?? 'none'}, ${dec(ws?.unitsPerImage ?? NaN, 3)} units/image)`,
    perSecond(c.withSubmit.imagesPerSecond),
  );
  add(
    ceilingName,
    `as run (units ÷ the customer's ${int(w.members)} images over ${w.mainBatches + w.priorityBatches} batches; ` +
      `binding ${c.processing.asRun.pattern ?? 'none'})`,
    perSecond(c.processing.asRun.imagesPerSecond),
  );
  add(
    ceilingName,
    `counter shards: ${c.shards.customer} per customer, ${c.shards.batch} per batch; ` +
      `member partitions: ${c.shards.memberPartitions} per batch`,
    '',
  );
}

export function formatRows(rows: readonly Row[]): string {
  const header: Row = { scenario: 'Scenario', figure: 'Figure', value: 'Value', target: 'Target', status: 'PASS' };
  const cells = (row: Row) => [row.scenario, row.figure, row.value, row.target ?? '', row.status ?? ''];
  const all = [header, ...rows].map(cells);
  all[0]![4] = 'Status';
  const widths = all[0]!.map((_, i) => Math.max(...all.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => (i === 2 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 2 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(all[0]!), rule, ...all.slice(1).map(line)].join('\n');
}

export function formatSummary(r: BenchmarkResult): string {
  const missed = r.targets.filter((t) => !t.pass);
  const misses = missed.map((m) => `${m.what} (${dec(m.value, m.value > 100 ? 0 : 3)} vs ${m.target})`).join('; ');
  const lines = [
    `Run: ${r.meta.quick ? 'quick' : 'full'}, ${ms(r.meta.totalMs)} total, Node ${r.meta.node}, ${r.meta.cpus} CPUs, ` +
      `load average ${dec(r.meta.loadAverage.start)} → ${dec(r.meta.loadAverage.end)}`,
    `Targets: ${r.targets.length - missed.length} of ${r.targets.length} met${missed.length ? `; missed: ${misses}` : ''}`,
  ];
  return lines.join('\n');
}

export function formatResult(r: BenchmarkResult): string {
  return `${formatRows(buildRows(r))}\n\n${formatSummary(r)}`;
}
