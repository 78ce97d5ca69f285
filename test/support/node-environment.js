/**
 * Jest's Node environment, loaded in the worker's own context (not a test file's sandbox), where it
 * drops one process warning: fauxqs 2 loads `node:sqlite` for its optional persistence, and Node 22
 * still calls SQLite experimental, once per worker. A test file's sandbox has a `process` of its
 * own, so local/emulators.ts cannot filter it there. Every other warning is printed as before.
 */
const { TestEnvironment } = require('jest-environment-node');

const emitWarning = process.emitWarning;
process.emitWarning = function filteredEmitWarning(warning, ...rest) {
  if (String(warning).startsWith('SQLite is an experimental feature')) return;
  return emitWarning.call(process, warning, ...rest);
};

module.exports = TestEnvironment;
