/**
 * Tools a suite needs that npm cannot install (AWS's cfn-lint, moto_server: Python). Where one is
 * not on PATH the suite is skipped with one line on the terminal, except under CI (`CI` set and not
 * `false`/`0`): CI machines have the tools and must run the suite, so there it fails instead.
 */
import { accessSync, constants, statSync, writeSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The executable `name` on PATH, as the shell would find it, or undefined. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

const inCi = !['', '0', 'false'].includes((process.env.CI ?? '').trim().toLowerCase());

/**
 * `command`'s path, or undefined when it is missing: then this registers, at the top of the suite,
 * a failing test under CI or a skipped one elsewhere (a suite must have a test), each naming
 * `install`, and elsewhere also writes the notice straight to the terminal (the suite's console
 * goes to its log file, test/support/jest-setup.js, and the quiet reporter names no skipped test).
 */
export function requiredTool(command: string, install: string, suite: string): string | undefined {
  const found = findOnPath(command);
  if (found) return found;
  const missing = `${command} is not on PATH (install it with: ${install})`;
  if (inCi) {
    test(`${command} is on PATH (CI must run ${suite})`, () => {
      throw new Error(missing);
    });
  } else {
    writeSync(2, `${suite}: skipped, ${missing}\n`);
    test.skip(`${missing}: ${suite} not run`, () => {});
  }
  return undefined;
}
