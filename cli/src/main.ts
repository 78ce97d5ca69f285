/**
 * `image-queue`: the command-line client of the image registration queue. Declares the options
 * every command shares, registers the commands, and turns errors into one line on stderr and an
 * exit code (0 done, 1 usage or server error, 2 some images failed).
 */
import { Command, CommanderError } from 'commander';
import { version } from '../package.json';
import { registerKeys } from './commands/keys';
import { registerLoad } from './commands/load';
import { registerManage } from './commands/manage';
import { registerRead } from './commands/read';
import { registerSmoke } from './commands/smoke';
import { registerSubmit } from './commands/submit';
import { registerWatch } from './commands/watch';
import { ENV_NAMES } from './config';
import { CliError, EXIT } from './errors';
import { resolveOwnCustomer } from './own-customer';

export function buildProgram(): Command {
  const program = new Command('image-queue')
    .description('Submit, watch and manage batches of the image registration queue.')
    .version(version)
    .option('--api <url>', `API base URL (env ${ENV_NAMES.api}; on AWS the ApiUrl output, ending in /prod)`)
    .option('--key <key:secret>', `credential (env ${ENV_NAMES.key})`)
    .option('--customer <n>', `customer to act on (env ${ENV_NAMES.customer})`)
    .option('--json', 'print the raw JSON instead of text (for scripts)')
    .showHelpAfterError('(image-queue --help lists the commands and options)')
    .exitOverride()
    .hook('preAction', (_program, action) => resolveOwnCustomer(action));
  for (const register of [registerSubmit, registerWatch, registerRead, registerManage, registerLoad, registerKeys, registerSmoke]) {
    register(program);
  }
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message (or the help/version, whose code is 0).
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.failure;
    } else if (error instanceof CliError) {
      process.stderr.write(`image-queue: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`image-queue: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = EXIT.failure;
    }
  }
}

void main(process.argv);
