/**
 * `cdk synth` as a deployment runs it (the CLI, cdk.json's app and context, the stack's real
 * esbuild bundling), into a folder of the caller's choosing so the project's cdk.out is left alone;
 * and the Lambda functions of the synthesized template, each with its bundle folder and the
 * environment the template gives it. Used by the bundle rehearsal (test/integration/bundles.test.ts)
 * and the bundle-size benchmark (bench/scenarios/bundles.ts).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO_ROOT = resolve(__dirname, '..', '..');

export interface SynthOptions {
  /**
   * Run cdk.json's `build` first (`npm run build:console`), as every `cdk synth` and deploy does.
   * false: the caller has built the console already.
   * @default true
   */
  build?: boolean;
  /**
   * CDK's template validation after synthesis (tens of seconds on a busy machine); the infra
   * suites check the template, so the bundle rehearsal turns it off.
   * @default true
   */
  validation?: boolean;
}

/** Synthesizes the app into `outDir` with the project's CDK CLI (offline, no credentials needed). */
export async function synthesize(outDir: string, options: SynthOptions = {}): Promise<void> {
  const args = ['synth', '--no-notices', '-q', '-o', outDir];
  if (options.build === false) args.push('--build', '');
  if (options.validation === false) args.push('--no-validation');
  await run(join(REPO_ROOT, 'node_modules', '.bin', 'cdk'), args, {
    cwd: REPO_ROOT,
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** A template value: a literal, or an intrinsic (`Ref`, `Fn::GetAtt`, `Fn::Join`…) resolved at deploy time. */
export type TemplateValue = string | number | boolean | Record<string, unknown>;

export interface AssemblyFunction {
  /** CloudFormation logical id, e.g. `WorkersProcessMain81D1E8A3`. */
  logicalId: string;
  /** Construct path, e.g. `ImageQueue/Workers/ProcessMain/Resource`. */
  constructPath: string;
  /** The function's bundle: the asset folder inside the assembly (absolute). */
  bundleDir: string;
  /** Lambda's `Handler`, e.g. `index.handler`. */
  handler: string;
  timeoutSeconds: number;
  memoryMiB: number;
  /** `Environment.Variables` as the template has them. */
  environment: Record<string, TemplateValue>;
}

interface TemplateResource {
  Type: string;
  Metadata?: Record<string, unknown>;
  Properties?: {
    Handler?: string;
    Timeout?: number;
    MemorySize?: number;
    Environment?: { Variables?: Record<string, TemplateValue> };
  };
}

/** Every Lambda function of the assembly's templates whose code is a local asset (a bundle). */
export function assemblyFunctions(assemblyDir: string): AssemblyFunction[] {
  const out: AssemblyFunction[] = [];
  for (const file of readdirSync(assemblyDir).filter((f) => f.endsWith('.template.json'))) {
    const template = JSON.parse(readFileSync(join(assemblyDir, file), 'utf8')) as { Resources: Record<string, TemplateResource> };
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const asset = resource.Metadata?.['aws:asset:path'];
      if (resource.Type !== 'AWS::Lambda::Function' || typeof asset !== 'string') continue;
      const properties = resource.Properties ?? {};
      out.push({
        logicalId,
        constructPath: String(resource.Metadata?.['aws:cdk:path'] ?? logicalId),
        bundleDir: join(assemblyDir, asset),
        handler: properties.Handler ?? 'index.handler',
        // Lambda's defaults when the template leaves them out.
        timeoutSeconds: properties.Timeout ?? 3,
        memoryMiB: properties.MemorySize ?? 128,
        environment: properties.Environment?.Variables ?? {},
      });
    }
  }
  return out;
}
