/**
 * Runs before every test file (setupFilesAfterEnv), inside the file's Jest sandbox.
 *
 * Unless `TEST_LOGS=stdout`, everything the suite logs goes to its log file
 * (test/support/test-logs.js): the sandbox's `console`, `process.stdout` and `process.stderr` are
 * replaced. That catches Powertools (its Logger and Metrics write to a `Console` on
 * `process.stdout`, created when the logger module loads, i.e. after this file), the local
 * runtime's `[local]` lines, and console output of tests and bench code. Only this sandbox is
 * affected: Jest's reporters, the real streams and production code are untouched. Output of
 * spawned processes is whatever the test does with their pipes.
 */
const { Console } = require('node:console');
const { mkdirSync, openSync, writeSync } = require('node:fs');
const { dirname, relative } = require('node:path');
const { Writable } = require('node:stream');
const { logFileFor, logsToFiles } = require('./test-logs');

if (logsToFiles()) {
  const testPath = expect.getState().testPath ?? 'unknown.test.js';
  const file = logFileFor(testPath);
  mkdirSync(dirname(file), { recursive: true });
  // Synchronous writes: lines are on disk in order even if the worker dies. The descriptor stays open
  // for the worker's life, so a log line from a handler still running after the suite ends lands too.
  const fd = openSync(file, 'w');
  /** @param {string | Uint8Array} chunk */
  const append = (chunk) => {
    try {
      writeSync(fd, chunk);
    } catch {
      // A log line is not worth failing a test for.
    }
  };
  /** A stream into the log file; stdout and stderr get one each, so a test can spy on either alone. */
  const fileStream = () =>
    new Writable({
      write(chunk, _encoding, done) {
        append(chunk);
        done();
      },
    });
  const sinks = { stdout: fileStream(), stderr: fileStream() };
  append(`# ${relative(process.cwd(), testPath)}: log of the run started ${new Date().toISOString()}\n`);

  for (const [name, sink] of Object.entries(sinks)) {
    Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => sink });
  }
  globalThis.console = new Console({ stdout: sinks.stdout, stderr: sinks.stderr, colorMode: false });

  // Each test's lines follow its name (written past the streams, which a test may be spying on).
  beforeEach(() => {
    append(`\n=== ${expect.getState().currentTestName ?? '(unnamed test)'}\n`);
  });
}
