/**
 * Scenario 5 — bundles: `cdk synth` (into a temporary folder, so the project's cdk.out is left
 * alone) bundles every Lambda function with esbuild as lib/ configures it (minified, AWS SDK
 * bundled); the size of each function's index.js is read back through the synthesized template.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { assemblyFunctions, synthesize } from '../../test/support/cloud-assembly';

export interface BundleSize {
  /** CloudFormation logical id without CDK's hash suffix, e.g. `ApiSubmit`, `WorkersProcessMain`. */
  fn: string;
  asset: string;
  bytes: number;
  memoryMiB: number | undefined;
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
    out.push({
      fn: fn.logicalId.replace(/[0-9A-F]{8}$/, ''),
      asset: basename(fn.bundleDir),
      bytes: statSync(index).size,
      memoryMiB: fn.memoryMiB,
    });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

export async function runBundlesScenario(): Promise<BundlesResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cdk-'));
  try {
    const started = performance.now();
    await synthesize(dir);
    const synthMs = performance.now() - started;
    const bundles = bundleSizesFrom(dir);
    if (bundles.length === 0) throw new Error(`cdk synth produced no Lambda bundles in ${dir}`);
    return { synthMs, bundles, largest: bundles[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
