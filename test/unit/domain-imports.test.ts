/**
 * The domain's import rule: lambdas/domain knows no edge (http/, handlers/), no adapter, no AWS
 * SDK and none of the deployment's table of functions and schedules (config/functions.ts); the
 * handlers pass those values in. Every import form counts, `import type` and re-exports included.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

const LAMBDAS = resolve(__dirname, '../../lambdas');
const DOMAIN = join(LAMBDAS, 'domain');

/** Folders and files under lambdas/ (without extension) the domain must not import. */
const FORBIDDEN_LOCAL = ['http/', 'adapters/', 'handlers/', 'config/functions'];
/** Packages that belong to the adapters and handlers. */
const FORBIDDEN_PACKAGES = [/^@aws-sdk\//, /^aws-lambda$/];

/** The modules a file imports (`import`, `import type`, `export … from`, `import()`, `require`). */
function importsOf(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

function forbidden(specifier: string): boolean {
  if (!specifier.startsWith('.')) return FORBIDDEN_PACKAGES.some((p) => p.test(specifier));
  const target = relative(LAMBDAS, resolve(DOMAIN, specifier)).replace(/\\/g, '/');
  return FORBIDDEN_LOCAL.some((f) => target === f || target.startsWith(f));
}

describe('lambdas/domain imports', () => {
  const files = readdirSync(DOMAIN).filter((name) => name.endsWith('.ts'));

  it('finds the domain files and their imports', () => {
    expect(files).toContain('submit.ts');
    expect(importsOf(join(DOMAIN, 'submit.ts'))).toContain('./errors');
  });

  it('imports nothing from the edge, the adapters or the deployment', () => {
    const violations = files.flatMap((name) => importsOf(join(DOMAIN, name)).filter(forbidden).map((s) => `${name} imports ${s}`));
    expect(violations).toEqual([]);
  });
});
