// @ts-check
/**
 * Jest's default reporter without the PASS line of every passing suite, so a green run prints only
 * the summary (jest.config.js pairs it with the 'summary' reporter). A failing suite is reported as
 * the default reporter does (header, every failure with its message, diff and code frame), followed
 * by the path of the suite's log file (test/support/test-logs.js). On a terminal the live progress
 * lines are the default reporter's. `TEST_LOGS=stdout` uses Jest's default reporter instead.
 */
const { DefaultReporter } = require('@jest/reporters');
const { displayLogFileFor } = require('./test-logs');

/** @param {import('@jest/test-result').TestResult} result */
const failed = (result) => result.numFailingTests > 0 || result.testExecError != null || Boolean(result.failureMessage);

class QuietReporter extends DefaultReporter {
  /** @type {DefaultReporter['onTestResult']} */
  onTestResult(test, testResult, aggregatedResults) {
    // Part of the failure message, so it follows the failures wherever they are shown (--json too).
    if (failed(testResult)) {
      const log = displayLogFileFor(testResult.testFilePath);
      testResult.failureMessage = `${testResult.failureMessage ?? ''}\n  Log of this suite: ${log}\n`;
    }
    super.onTestResult(test, testResult, aggregatedResults);
  }

  /** @type {DefaultReporter['printTestFileHeader']} */
  printTestFileHeader(testPath, config, result) {
    if (failed(result) || (result.console?.length ?? 0) > 0) super.printTestFileHeader(testPath, config, result);
  }
}

module.exports = QuietReporter;
