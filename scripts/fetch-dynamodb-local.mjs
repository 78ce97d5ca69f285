#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
// Fetches AWS's DynamoDB Local (the engine LocalStack also uses) for the local runtime and the
// integration tests. The jar ships inside the npm package `amplify-dynamodb-simulator`; installing
// that package would drag in ~280 unrelated packages, so we `npm pack` the pinned version, verify
// its registry integrity hash ourselves and extract only the `emulator/` folder into a git-ignored
// cache. Nothing comes from anywhere but the npm registry.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = 'amplify-dynamodb-simulator';
const VERSION = '2.9.30'; // DynamoDB Local 1.25.1
const INTEGRITY = 'sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cacheDir = join(root, '.cache', 'dynamodb-local');
const target = join(cacheDir, VERSION);
const marker = join(target, '.verified');

if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === INTEGRITY) {
  process.exit(0);
}

const work = join(cacheDir, `tmp-${process.pid}`);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
try {
  const packed = execFileSync('npm', ['pack', `${PACKAGE}@${VERSION}`, '--silent'], {
    cwd: work,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop();
  const tarball = join(work, packed);
  const actual = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (actual !== INTEGRITY) {
    throw new Error(`integrity mismatch for ${PACKAGE}@${VERSION}: expected ${INTEGRITY}, got ${actual}`);
  }
  execFileSync('tar', ['xzf', tarball, '-C', work, 'package/emulator'], { stdio: 'inherit' });
  rmSync(target, { recursive: true, force: true });
  renameSync(join(work, 'package', 'emulator'), target);
  writeFileSync(marker, `${INTEGRITY}\n`);
  console.log(`DynamoDB Local ${VERSION} verified and cached in ${target}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
