// Four projects (unit, infra, integration, browser) so each can be run on its own; `npm test` runs all.
// @swc/jest strips types fast (type-checking is `tsc --noEmit`); middy, fauxqs and other ESM-only
// packages are transformed to CommonJS so Jest can load them.
// Quiet output: each suite logs to test-output/logs/<project>/<name>.log (test/support/jest-setup.js)
// and passing suites print nothing, so a green run shows only the summaries; `TEST_LOGS=stdout`
// brings back logs on the terminal and Jest's default reporter.
const { logsToFiles } = require('./test/support/test-logs');

const esmPackages = ['@middy', 'fauxqs', 'request-filtering-agent'].join('|');
const base = {
  transform: { '^.+\\.(t|j|mj)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testEnvironment: '<rootDir>/test/support/node-environment.js',
  setupFilesAfterEnv: ['<rootDir>/test/support/jest-setup.js'],
};
module.exports = {
  projects: [
    // The console's own logic (console/test) runs with the unit tests.
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/console/test/**/*.test.ts'] },
    { ...base, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      // `npm test` runs this project with --maxWorkers=3 (sized for 2 cores; a number, since a
      // container's cpus() may count the host's): its suites spend a third of their time waiting
      // on queues, origins and long polls, which a third worker fills.
      // One DynamoDB Local for the run; every runtime keeps to a database of its own in it.
      globalSetup: '<rootDir>/test/support/integration-setup.ts',
      globalTeardown: '<rootDir>/test/support/integration-teardown.ts',
    },
    // The console in headless Chromium (the npm package @sparticuz/chromium's, or CHROMIUM_PATH; driven by playwright-core).
    { ...base, displayName: 'browser', testMatch: ['<rootDir>/test/browser/**/*.test.ts'] },
  ],
  // The summary reporter would list the failures again after 20 suites; with passing suites silent
  // they are already the last thing printed.
  reporters: logsToFiles()
    ? ['<rootDir>/test/support/quiet-reporter.js', ['summary', { summaryThreshold: Number.MAX_SAFE_INTEGER }]]
    : ['default'],
  // Integration suites drive emulators and wait (by polling) for queues to drain.
  testTimeout: 300_000,
};
