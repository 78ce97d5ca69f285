// Three projects (unit, infra, integration) so each can be run on its own; `npm test` runs all.
// @swc/jest strips types fast (type-checking is `tsc --noEmit`); middy, fauxqs and other ESM-only
// packages are transformed to CommonJS so Jest can load them.
const esmPackages = ['@middy', 'fauxqs', 'request-filtering-agent'].join('|');
const base = {
  transform: { '^.+\\.(t|j|mj)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  testEnvironment: 'node',
};
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...base, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
    },
  ],
  // Integration suites drive emulators and wait (by polling) for queues to drain.
  testTimeout: 300_000,
};
