/**
 * The functions run without `--enable-source-maps` (lib/constructs/functions.ts): the logger maps a
 * logged error's stack through the bundle's index.js.map itself. Checked on a minified bundle built
 * as the functions' are, run in a plain Node.js process.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';

const LOGGER = resolve(__dirname, '../../lambdas/observability/logger.ts');

// Line numbers matter: the test expects the throw on line 4 and the cause on line 3.
const ENTRY = `import { logger } from ${JSON.stringify(LOGGER)};

function load(): never { throw new Error('origin refused'); }
function ingest(): never { try { load(); } catch (cause) { throw new Error('ingest failed', { cause }); } }
try {
  ingest();
} catch (error) {
  logger.error('failed', { error: error as Error });
  // The caller's error keeps its own stack.
  console.log(JSON.stringify({ callerStack: (error as Error).stack }));
}
`;

interface Logged {
  error: { location: string; stack: string; message: string; cause: { location: string; message: string } };
}

let dir: string;
let bundle: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'source-map-'));
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'entry.ts'), ENTRY);
  bundle = join(dir, 'out', 'index.js');
  buildSync({
    entryPoints: [join(dir, 'src', 'entry.ts')],
    outfile: bundle,
    bundle: true,
    minify: true,
    sourcemap: true,
    platform: 'node',
    target: 'node22',
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the bundle in a plain Node.js process: the logged line (errors go to stderr) and the caller's stack. */
function run(): { logged: Logged; callerStack: string } {
  const out = spawnSync(process.execPath, [bundle], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(out.stderr);
  return { logged: JSON.parse(out.stderr) as Logged, callerStack: (JSON.parse(out.stdout) as { callerStack: string }).callerStack };
}

describe('a logged error from a minified bundle, without --enable-source-maps', () => {
  it('points at the TypeScript lines, its cause too, and leaves the caller’s error as it was', () => {
    const source = join(dir, 'src', 'entry.ts');
    const { logged, callerStack } = run();
    expect(logged.error.message).toBe('ingest failed');
    expect(logged.error.location).toBe(`${source}:4`);
    expect(logged.error.stack).toContain(`${source}:4:`);
    expect(logged.error.stack).not.toContain(bundle);
    expect(logged.error.cause.message).toBe('origin refused');
    expect(logged.error.cause.location).toBe(`${source}:3`);
    expect(callerStack).toContain(`${bundle}:`);
  });

  it('keeps the bundle positions when index.js has no map beside it', () => {
    unlinkSync(`${bundle}.map`);
    const { logged } = run();
    expect(logged.error.location).toMatch(new RegExp(`^${bundle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+$`));
  });
});
