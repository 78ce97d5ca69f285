/**
 * Scenario 5 — bundles: `cdk synth` (into a temporary folder, so the project's cdk.out is left
 * alone) bundles every Lambda function with esbuild as lib/ configures it (minified, AWS SDK
 * bundled); the size of each function's index.js is read back through the synthesized template.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO_ROOT = resolve(__dirname, '..', '..');

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

interface TemplateResource {
  Type: string;
  Metadata?: Record<string, unknown>;
  Properties?: { MemorySize?: number };
}

/** Reads the function → bundle sizes from a synthesized cloud assembly folder. */
export function bundleSizesFrom(assemblyDir: string): BundleSize[] {
  const templates = readdirSync(assemblyDir)
    .filter((f) => f.endsWith('.template.json'))
    .map((f) => join(assemblyDir, f));
  const out: BundleSize[] = [];
  for (const file of templates) {
    const template = JSON.parse(readFileSync(file, 'utf8')) as { Resources: Record<string, TemplateResource> };
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const asset = resource.Metadata?.['aws:asset:path'];
      if (typeof asset !== 'string') continue;
      const index = join(assemblyDir, asset, 'index.js');
      if (!existsSync(index)) continue;
      out.push({
        fn: logicalId.replace(/[0-9A-F]{8}$/, ''),
        asset,
        bytes: statSync(index).size,
        memoryMiB: resource.Properties?.MemorySize,
      });
    }
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

export async function runBundlesScenario(): Promise<BundlesResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cdk-'));
  try {
    const started = performance.now();
    await run(join(REPO_ROOT, 'node_modules', '.bin', 'cdk'), ['synth', '--no-notices', '-q', '-o', dir], {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const synthMs = performance.now() - started;
    const bundles = bundleSizesFrom(dir);
    if (bundles.length === 0) throw new Error(`cdk synth produced no Lambda bundles in ${dir}`);
    return { synthMs, bundles, largest: bundles[0] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
