/**
 * `retry BATCH` (a new batch of the failed images; 409 when there are none) and `cancel BATCH`
 * (members not yet picked up become cancelled; 409 once the batch has finished).
 */
import type { Command } from 'commander';
import { type Batch, describeBatch, images } from '../batch';
import { EXIT } from '../errors';
import { followBatches } from '../follow';
import { exitWith, printJson, printLine, session } from '../session';

export function registerManage(program: Command): void {
  program
    .command('retry')
    .description("submit a batch's failed images again as a new batch (same queue)")
    .argument('<batch>', 'a batch number or URL')
    .option('--wait', 'follow the new batch until it finishes (exit 2 if any image failed)')
    .action(
      exitWith(async (batch: string, options: { wait?: boolean }, command: Command) => {
        const s = session(command);
        const { body } = await s.client.request<Batch>('POST', `${s.batchUrl(batch)}/retry`);
        if (!s.json) printLine(`batch ${body.id}: ${images(body.count)} submitted again ${body['@id']}`);
        if (options.wait) return followBatches(s, [body['@id']]);
        if (s.json) printJson(body);
        return EXIT.ok;
      }),
    );

  program
    .command('cancel')
    .description('cancel the images of a batch not yet picked up')
    .argument('<batch>', 'a batch number or URL')
    .action(
      exitWith(async (batch: string, _options: object, command: Command) => {
        const s = session(command);
        const { body } = await s.client.request<Batch>('DELETE', s.batchUrl(batch));
        if (s.json) printJson(body);
        else printLine(`cancelled: ${describeBatch(body)}`);
        return EXIT.ok;
      }),
    );
}
