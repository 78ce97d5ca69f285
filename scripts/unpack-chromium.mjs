#!/usr/bin/env node
// The browser tests' Chromium, from the npm registry: the headless build that the devDependency
// `@sparticuz/chromium` ships brotli-compressed inside the package (Linux x64), unpacked once into
// .cache/chromium/<version>/ with the NSS/NSPR libraries the package also carries (the binary links
// libnss3 and libnspr4, which a bare machine lacks) and its fonts (a machine with none would draw
// no text). Prints `{ executablePath, env }` as JSON; `--version` runs the binary instead, so
// .ci/run fails here, loudly, when it cannot start.
//
// The package unpacks into os.tmpdir(): /tmp/chromium, shared by every project on the machine and
// reused whatever version it is. TMPDIR points it at a folder of ours, renamed into place only once
// complete, so an interrupted unpack is never taken for a browser.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(
    `@sparticuz/chromium ships Chromium for Linux x64 only (this is ${process.platform} ${process.arch}): ` +
      'set CHROMIUM_PATH to a Chromium or Chrome.',
  );
  process.exit(1);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const packageDir = join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..');
const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
const target = join(root, '.cache', 'chromium', version);

if (!existsSync(target)) {
  const work = `${target}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  process.env.TMPDIR = work;
  try {
    const { default: chromium, inflate } = await import('@sparticuz/chromium');
    await chromium.executablePath(); // chromium, its SwiftShader libraries and fonts/
    await inflate(join(packageDir, 'bin', 'al2023.tar.br')); // al2023/lib: libnss3, libnspr4…
    // The system's fonts where there are some (the page looks as in a desktop browser), else the package's.
    writeFileSync(
      join(work, 'fonts.conf'),
      `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>${join(target, 'fonts', 'fonts')}</dir>
  <cachedir>${join(target, 'fontconfig-cache')}</cachedir>
</fontconfig>
`,
    );
    try {
      renameSync(work, target);
    } catch (error) {
      if (!existsSync(target)) throw error; // else another run unpacked it first
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const executablePath = join(target, 'chromium');
const env = {
  LD_LIBRARY_PATH: [join(target, 'al2023', 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
  FONTCONFIG_FILE: join(target, 'fonts.conf'),
};
if (process.argv.includes('--version')) {
  const line = execFileSync(executablePath, ['--version'], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
  console.log(`${line} (npm @sparticuz/chromium ${version})`);
} else {
  console.log(JSON.stringify({ executablePath, env }));
}
