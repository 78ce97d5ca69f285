/** `watch BATCH…`: follows batches until they finish, with progress and a summary (exit 0 or 2). */
import type { Command } from 'commander';
import { followBatches } from '../follow';
import { exitWith, session } from '../session';

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description('follow batches until they finish (exit 0: all completed, 2: some failed or cancelled)')
    .argument('<batch...>', 'batch numbers (of --customer) or batch URLs')
    .action(
      exitWith(async (batches: string[], _options: object, command: Command) => {
        const s = session(command);
        return followBatches(
          s,
          batches.map((b) => s.batchUrl(b)),
        );
      }),
    );
}
