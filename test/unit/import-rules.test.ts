/**
 * Import rules that the compiler does not check:
 * - lambdas/domain knows no edge (http/, handlers/), no adapter, no AWS SDK and none of the
 *   deployment's table of functions and schedules (config/functions.ts); the handlers pass those
 *   values in. Every import form counts, `import type` and re-exports included.
 * - The clients (cli/, console/) take the service's resource types with `import type` only, so
 *   none of the service's code (zod schemas and all) is loaded by the CLI or bundled into the console.
 *   Plain constants of lambdas/config/ are the one exception.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '../..');
const LAMBDAS = join(ROOT, 'lambdas');
const DOMAIN = join(LAMBDAS, 'domain');

/** Folders and files under lambdas/ (without extension) the domain must not import. */
const FORBIDDEN_LOCAL = ['http/', 'adapters/', 'handlers/', 'config/functions'];
/** Packages that belong to the adapters and handlers. */
const FORBIDDEN_PACKAGES = [/^@aws-sdk\//, /^aws-lambda$/];

/** The modules a file imports (`import`, `import type`, `export … from`, `import()`, `require`). */
function importsOf(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

/** Where a relative specifier of a file in `dir` points, relative to lambdas/ ('../…' when outside). */
function underLambdas(dir: string, specifier: string): string {
  return relative(LAMBDAS, resolve(dir, specifier)).replace(/\\/g, '/');
}

function forbiddenInDomain(file: string, specifier: string): boolean {
  if (!specifier.startsWith('.')) return FORBIDDEN_PACKAGES.some((p) => p.test(specifier));
  const target = underLambdas(join(file, '..'), specifier);
  return FORBIDDEN_LOCAL.some((f) => target === f || target.startsWith(f));
}

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(dir, name));
}

/** The `import`/`export … from` declarations of a file that load a module of lambdas/ outside config/ at run time. */
function runtimeServiceImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const found: string[] = [];
  for (const statement of source.statements) {
    let typeOnly: boolean;
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      const named = clause?.namedBindings;
      typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined && named !== undefined && ts.isNamedImports(named) && named.elements.every((e) => e.isTypeOnly)));
    } else if (ts.isExportDeclaration(statement)) {
      const named = statement.exportClause;
      typeOnly = statement.isTypeOnly || (named !== undefined && ts.isNamedExports(named) && named.elements.every((e) => e.isTypeOnly));
    } else {
      continue;
    }
    const specifier = statement.moduleSpecifier;
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    const target = underLambdas(join(file, '..'), specifier.text);
    if (!target.startsWith('../') && !target.startsWith('config/') && !typeOnly) found.push(specifier.text);
  }
  return found;
}

describe('lambdas/domain imports', () => {
  // Every file, subfolders included: a module moved one level down must not escape the rule.
  const files = tsFilesUnder(DOMAIN);

  it('finds the domain files and their imports', () => {
    expect(files).toContain(join(DOMAIN, 'submit.ts'));
    expect(importsOf(join(DOMAIN, 'submit.ts'))).toContain('./errors');
  });

  it('imports nothing from the edge, the adapters or the deployment', () => {
    const violations = files.flatMap((file) =>
      importsOf(file)
        .filter((specifier) => forbiddenInDomain(file, specifier))
        .map((s) => `${relative(DOMAIN, file)} imports ${s}`),
    );
    expect(violations).toEqual([]);
  });
});

describe('client imports of the service', () => {
  const files = [...tsFilesUnder(join(ROOT, 'cli/src')), ...tsFilesUnder(join(ROOT, 'console/src'))];

  it('finds the clients that take the service resource types', () => {
    const users = files.filter((f) => importsOf(f).some((s) => s.endsWith('lambdas/http/resource-schemas')));
    expect(users.map((f) => relative(ROOT, f))).toEqual(expect.arrayContaining(['cli/src/resources.ts', 'console/src/types.ts']));
  });

  it('load no module of lambdas/ outside config/ at run time', () => {
    const violations = files.flatMap((f) => runtimeServiceImports(f).map((s) => `${relative(ROOT, f)} imports ${s}`));
    expect(violations).toEqual([]);
  });
});
