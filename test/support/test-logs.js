// @ts-check
/**
 * Where test suites log. By default every suite writes its logs (Powertools JSON lines from the
 * handlers, the local runtime's `[local]` lines, console output of the test and of the code it runs)
 * to its own file, `test-output/logs/<project>/<name>.log` (test/support/jest-setup.js does the
 * redirecting; test/support/quiet-reporter.js names the file under a failing suite).
 * `TEST_LOGS=stdout` restores Jest's usual behaviour: logs on the terminal, Jest's default reporter.
 * Plain CommonJS: jest.config.js and the reporter load it without a transform.
 */
const { join, relative, sep } = require('node:path');

const ROOT = join(__dirname, '..', '..');
const LOG_DIR = join(ROOT, 'test-output', 'logs');

/** False when `TEST_LOGS=stdout` asks for logs on the terminal. */
function logsToFiles() {
  return (process.env.TEST_LOGS ?? '').trim().toLowerCase() !== 'stdout';
}

/**
 * The log file of a test file: test/integration/queue-flow.test.ts → test-output/logs/integration/queue-flow.log.
 * @param {string} testPath absolute path of the test file
 */
function logFileFor(testPath) {
  const underTest = relative(join(ROOT, 'test'), testPath);
  const name = underTest.startsWith('..') ? relative(ROOT, testPath).split(sep).join('__') : underTest;
  return join(LOG_DIR, `${name.replace(/\.test\.[cm]?[jt]sx?$/, '')}.log`);
}

/**
 * The same, relative to the repository (as the reporter prints it).
 * @param {string} testPath
 */
function displayLogFileFor(testPath) {
  return relative(ROOT, logFileFor(testPath));
}

module.exports = { LOG_DIR, logsToFiles, logFileFor, displayLogFileFor };
