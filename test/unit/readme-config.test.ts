/**
 * The README's Configuration section names every environment variable the code reads: the
 * handlers' (`ENV`), the metrics tag, and the local runtime's own switches. A variable added
 * without a line there fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS } from '../../lambdas/config/metrics';
import { ENV } from '../../lambdas/config/resources';
import { DYNAMODB_LOCAL_DIR_ENV } from '../../local/emulators';
import { LOCAL_PREFIX_ENV } from '../../local/endpoints';
import { LOCAL_USAGE_LIMITS_ENV } from '../../local/runtime';
import { STRICT_DYNAMODB_ENV } from '../../local/strict-dynamodb';

const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
const configuration = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));

describe('README configuration', () => {
  const names = [
    ...Object.values(ENV),
    METRICS.serviceEnv,
    DYNAMODB_LOCAL_DIR_ENV,
    LOCAL_PREFIX_ENV,
    LOCAL_USAGE_LIMITS_ENV,
    STRICT_DYNAMODB_ENV,
    'PORT',
    'TEST_LOGS',
    'CHROMIUM_PATH',
  ];

  it.each([...new Set(names)])('documents %s', (name) => {
    expect(configuration).toContain(`\`${name}\``);
  });
});
