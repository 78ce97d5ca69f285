/** The read commands: `status [BATCH]`, `errors BATCH` and `queue` (each with --json for scripts). */
import Table from 'cli-table3';
import type { Command } from 'commander';
import { type Batch, describeBatch } from '../batch';
import { EXIT } from '../errors';
import type { CustomerQueue, GlobalQueue, Image } from '../resources';
import { exitWith, printJson, printLine, session } from '../session';

/** A plain table: no colours, so it reads the same in a terminal, a log or a pipe. */
export function plainTable(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [] } });
}

export function registerRead(program: Command): void {
  program
    .command('status')
    .description("the customer's queue, or one batch")
    .argument('[batch]', 'a batch number or URL')
    .action(
      exitWith(async (batch: string | undefined, _options: object, command: Command) => {
        const s = session(command);
        if (batch !== undefined) {
          const { body } = await s.client.get<Batch>(s.batchUrl(batch));
          if (s.json) printJson(body);
          else printLine(describeBatch(body));
          return EXIT.ok;
        }
        const customer = s.customer();
        const { body } = await s.client.get<CustomerQueue>(`/customers/${customer}/queue`);
        if (s.json) printJson(body);
        else
          printLine(
            `customer ${customer}: ${body.size} images unfinished, ${body.imagesWaiting} waiting, ${body.batchesWaiting} batches waiting`,
          );
        return EXIT.ok;
      }),
    );

  program
    .command('errors')
    .description("a batch's failed images with their errors (every page)")
    .argument('<batch>', 'a batch number or URL')
    .action(
      exitWith(async (batch: string, _options: object, command: Command) => {
        const s = session(command);
        const images = await s.client.collect<Image>(`${s.batchUrl(batch)}/errorImages`);
        if (s.json) printJson(images);
        else if (images.length === 0) printLine(`batch ${batch} has no failed images`);
        else {
          const table = plainTable(['id', 'space', 'origin', 'error']);
          for (const image of images) table.push([image.id, image.space, image.origin, image.error ?? image.state ?? '']);
          printLine(table.toString());
          printLine(`${images.length} failed image${images.length === 1 ? '' : 's'}`);
        }
        return EXIT.ok;
      }),
    );

  program
    .command('queue')
    .description("the whole service's queue depths (GET /queue, no credential needed)")
    .action(
      exitWith(async (_options: object, command: Command) => {
        const s = session(command, { credentialRequired: false });
        const { body } = await s.client.get<GlobalQueue>('/queue');
        if (s.json) printJson(body);
        else printLine(`queue: ${body.incoming} images on the main queues, ${body.priority} on the priority queues`);
        return EXIT.ok;
      }),
    );
}
