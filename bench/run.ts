/**
 * `npm run bench` — runs every benchmark scenario against the local runtime and prints one table.
 *
 *   npm run bench -- [--out results.json] [--quick] [--sizes 100,1000,10000] [--reps 5]
 *                    [--processing 10000] [--priority-reps 5] [--main-pollers 8]
 *                    [--bundles | --no-bundles] [--load-runs 7] [--price name=value]… [--memory name=MiB]…
 *                    [--strict-batches 4] [--strict-members 500] [--strict-priority 100] [--strict-reps 2] [--no-strict]
 *
 *   npm run bench -- --bundles-only [--load-runs 7] [--out bundles.json]
 *
 * Progress goes to stderr, the table to stdout, the full result as JSON to `--out`. `--bundles-only`
 * runs the bundles scenario alone (cdk synth, each function's size and cold-start load time), no emulators.
 * Prices: dynamoWritePerMillion, dynamoReadPerMillion, sqsPerMillion, lambdaGbSecond,
 * lambdaPerMillionRequests, apiGatewayPerMillion. Memory: submitMiB, authorizerMiB, processorMiB, tasksMiB.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { type BenchmarkOptions, runBenchmark } from './benchmark';
import { DEFAULT_MEMORY, DEFAULT_PRICES, type MemorySizes, type Prices } from './cost';
import { runBundlesScenario } from './scenarios/bundles';
import { formatBundles, formatResult } from './table';

export { runBenchmark };

export interface CliArgs {
  out?: string;
  /** Only the bundles scenario (`--bundles-only`). */
  bundlesOnly?: boolean;
  options: BenchmarkOptions;
}

function positiveInt(flag: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got '${raw}'`);
  return n;
}

function keyValue<T extends object>(flag: string, raw: string | undefined, defaults: T): [keyof T, number] {
  const [key, value] = (raw ?? '').split('=');
  if (!key || !(key in defaults)) throw new Error(`${flag} takes name=value with name one of ${Object.keys(defaults).join(', ')}`);
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} ${key}: '${value}' is not a number`);
  return [key as keyof T, n];
}

export function parseArgs(argv: readonly string[]): CliArgs {
  const options: BenchmarkOptions = {};
  const prices: Partial<Prices> = {};
  const memory: Partial<MemorySizes> = {};
  let out: string | undefined;
  let bundlesOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const [name, inline] =
      flag.includes('=') && flag.startsWith('--') && !flag.startsWith('--price') && !flag.startsWith('--memory')
        ? (flag.split(/=(.*)/s) as [string, string])
        : [flag, undefined];
    const value = () => inline ?? argv[++i];
    switch (name) {
      case '--out':
        out = value();
        if (!out) throw new Error('--out needs a path');
        break;
      case '--quick':
        options.quick = true;
        break;
      case '--bundles':
        options.bundles = true;
        break;
      case '--no-bundles':
        options.bundles = false;
        break;
      case '--bundles-only':
        bundlesOnly = true;
        break;
      case '--load-runs':
        options.loadRuns = positiveInt('--load-runs', value());
        break;
      case '--no-strict':
        options.strict = false;
        break;
      case '--strict-batches':
        options.strictBatches = positiveInt('--strict-batches', value());
        break;
      case '--strict-members':
        options.strictMembers = positiveInt('--strict-members', value());
        break;
      case '--strict-priority':
        options.strictPriority = positiveInt('--strict-priority', value());
        break;
      case '--strict-reps':
        options.strictReps = positiveInt('--strict-reps', value());
        break;
      case '--sizes':
        options.sizes = (value() ?? '').split(',').map((s) => positiveInt('--sizes', s.trim()));
        break;
      case '--reps':
        options.reps = positiveInt('--reps', value());
        break;
      case '--processing':
        options.processingMembers = positiveInt('--processing', value());
        break;
      case '--priority-reps':
        options.priorityReps = positiveInt('--priority-reps', value());
        break;
      case '--main-pollers':
        options.mainPollers = positiveInt('--main-pollers', value());
        break;
      case '--price': {
        const [k, v] = keyValue('--price', argv[++i], DEFAULT_PRICES);
        prices[k] = v;
        break;
      }
      case '--memory': {
        const [k, v] = keyValue('--memory', argv[++i], DEFAULT_MEMORY);
        memory[k] = v;
        break;
      }
      case '--help':
      case '-h':
        throw new Error('usage: see the header of bench/run.ts');
      default:
        throw new Error(`unknown argument '${flag}'`);
    }
  }
  if (Object.keys(prices).length) options.prices = prices;
  if (Object.keys(memory).length) options.memory = memory;
  return { ...(out ? { out } : {}), ...(bundlesOnly ? { bundlesOnly } : {}), options };
}

async function main(): Promise<void> {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
    return;
  }
  let result: unknown;
  if (args.bundlesOnly) {
    const startedAt = new Date().toISOString();
    const loadStart = loadavg()[0] ?? 0;
    console.error("[bench] bundles only: cdk synth, then each function's load time");
    const bundles = await runBundlesScenario({ ...(args.options.loadRuns ? { loadRuns: args.options.loadRuns } : {}) });
    const loadAverage = { start: loadStart, end: loadavg()[0] ?? 0 };
    console.log(formatBundles(bundles));
    console.log(
      `Node ${process.version}, ${cpus().length} CPUs, load average ${loadAverage.start.toFixed(2)} → ${loadAverage.end.toFixed(2)}`,
    );
    result = { meta: { startedAt, node: process.version, cpus: cpus().length, loadAverage }, bundles };
  } else {
    const full = await runBenchmark({ ...args.options, log: (line) => console.error(line) });
    console.log(formatResult(full));
    result = full;
  }
  if (args.out) {
    const path = resolve(args.out);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
    console.error(`[bench] wrote ${path}`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
