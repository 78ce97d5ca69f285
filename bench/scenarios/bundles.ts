/**
 * Scenario 5 — bundles: `cdk synth` (into a temporary folder, so the project's cdk.out is left
 * alone) bundles every Lambda function with esbuild as lib/ configures it (minified, AWS SDK
 * bundled); the size of each function's index.js is read back through the synthesized template,
 * and its cold-start load time measured: `require` of index.js in a fresh Node.js process, the
 * function's asset folder copied alone into an empty folder (nothing resolves from the project's
 * node_modules), with the string environment variables the template gives the function
 * (NODE_OPTIONS among them); median of `loadRuns` runs, taken in rounds over every function so a
 * change in the machine's load hits them all alike.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { assemblyFunctions, synthesize } from '../../test/support/cloud-assembly';

const run = promisify(execFile);

/** Default runs per function of the load measurement. */
export const LOAD_RUNS = 7;

/** Medians over the runs, in milliseconds. */
export interface BundleLoad {
  /** `require` of index.js, timed inside the child with performance.now(). */
  requireMs: number;
  /** CPU time (user + system) of that require: less sensitive than time to other load on the machine. */
  cpuMs: number;
  /** The whole child process, spawn to exit: Node.js's own start and exit included. */
  processMs: number;
  runs: number;
}

export interface BundleSize {
  /** CloudFormation logical id without CDK's hash suffix, e.g. `ApiSubmit`, `WorkersProcessMain`. */
  fn: string;
  asset: string;
  bytes: number;
  memoryMiB: number | undefined;
  /** The function's NODE_OPTIONS in the template ('' when it has none). */
  nodeOptions: string;
  /** The function's environment variables that are plain strings in the template (not references). */
  environment: Record<string, string>;
  /** Cold-start load time, when measured (`measureLoadTimes`). */
  load?: BundleLoad;
}

export interface BundlesResult {
  synthMs: number;
  bundles: BundleSize[];
  largest: BundleSize | undefined;
}

/** Reads the function → bundle sizes from a synthesized cloud assembly folder. */
export function bundleSizesFrom(assemblyDir: string): BundleSize[] {
  const out: BundleSize[] = [];
  for (const fn of assemblyFunctions(assemblyDir)) {
    const index = join(fn.bundleDir, 'index.js');
    if (!existsSync(index)) continue;
    const environment = Object.fromEntries(Object.entries(fn.environment).filter((e): e is [string, string] => typeof e[1] === 'string'));
    out.push({
      fn: fn.logicalId.replace(/[0-9A-F]{8}$/, ''),
      asset: basename(fn.bundleDir),
      bytes: statSync(index).size,
      memoryMiB: fn.memoryMiB,
      nodeOptions: environment.NODE_OPTIONS ?? '',
      environment,
    });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

/** Runs in the child: the time and CPU time of requiring the file named by its first argument. */
const LOADER = `const { performance } = require('node:perf_hooks');
const cpu = process.cpuUsage();
const start = performance.now();
require(process.argv[1]);
const requireMs = performance.now() - start;
const used = process.cpuUsage(cpu);
process.stdout.write(JSON.stringify({ requireMs, cpuMs: (used.user + used.system) / 1000 }));`;

const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1] as number;
};

/** `bundles` with their cold-start load times (see the header), measured `runs` times each. */
export async function measureLoadTimes(assemblyDir: string, bundles: readonly BundleSize[], runs = LOAD_RUNS): Promise<BundleSize[]> {
  const work = mkdtempSync(join(tmpdir(), 'bench-load-'));
  try {
    const copies = bundles.map((b, i) => {
      const dir = join(work, String(i));
      cpSync(join(assemblyDir, b.asset), dir, { recursive: true });
      return join(dir, 'index.js');
    });
    const samples = bundles.map(() => ({ requireMs: [] as number[], cpuMs: [] as number[], processMs: [] as number[] }));
    for (let round = 0; round < runs; round++) {
      for (const [i, b] of bundles.entries()) {
        const index = copies[i] as string;
        const started = performance.now();
        const { stdout } = await run(process.execPath, ['-e', LOADER, index], {
          cwd: dirname(index),
          // Only the function's own variables: none of the bench's (tsx's loader flags among them).
          env: b.environment,
        });
        const s = samples[i]!;
        s.processMs.push(performance.now() - started);
        const measured = JSON.parse(stdout) as { requireMs: number; cpuMs: number };
        s.requireMs.push(measured.requireMs);
        s.cpuMs.push(measured.cpuMs);
      }
    }
    return bundles.map((b, i) => {
      const s = samples[i]!;
      return { ...b, load: { requireMs: median(s.requireMs), cpuMs: median(s.cpuMs), processMs: median(s.processMs), runs } };
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface BundlesOptions {
  /** Runs per function of the load measurement; 0 skips it (default `LOAD_RUNS`). */
  loadRuns?: number;
}

export async function runBundlesScenario(options: BundlesOptions = {}): Promise<BundlesResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cdk-'));
  try {
    const started = performance.now();
    await synthesize(dir);
    const synthMs = performance.now() - started;
    const sizes = bundleSizesFrom(dir);
    if (sizes.length === 0) throw new Error(`cdk synth produced no Lambda bundles in ${dir}`);
    const loadRuns = options.loadRuns ?? LOAD_RUNS;
    const bundles = loadRuns > 0 ? await measureLoadTimes(dir, sizes, loadRuns) : sizes;
    return { synthMs, bundles, largest: bundles[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
