/**
 * `submit FILE`: POSTs the file's images as one or more batches, each with an Idempotency-Key, so
 * running it again after an interruption resumes (the server hands back the batches already
 * created) instead of submitting them twice; `--wait` then follows them to the end.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type Batch, images } from '../batch';
import { checkBatchSize, MAX_BATCH_SIZE, planChunks } from '../chunks';
import { nonNegativeInteger } from '../config';
import { CliError, EXIT } from '../errors';
import { followBatches } from '../follow';
import { parseMembers } from '../input';
import { exitWith, printJson, printLine, session } from '../session';

interface SubmitOptions {
  priority?: boolean;
  space: string;
  batchSize: string;
  wait?: boolean;
}

function readInput(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

export function registerSubmit(program: Command): void {
  program
    .command('submit')
    .description('submit a JSON collection, a CSV (id,space,origin,…) or a list of origin URLs as batches')
    .argument('<file>', 'the file to submit')
    .option('--priority', 'use the priority queue (POST …/queue/priority)')
    .option('--space <n>', 'space of images the file gives none for (URL lists, CSV without a space column)', '1')
    .option('--batch-size <n>', `most images per POST (1–${MAX_BATCH_SIZE})`, String(MAX_BATCH_SIZE))
    .option('--wait', 'follow the batches until they finish (exit 2 if any image failed)')
    .action(
      exitWith(async (file: string, options: SubmitOptions, command: Command) => {
        const s = session(command);
        const customer = s.customer();
        const space = nonNegativeInteger(options.space, '--space');
        const batchSize = nonNegativeInteger(options.batchSize, '--batch-size');
        checkBatchSize(batchSize);
        const queue = options.priority ? 'priority' : 'main';
        const content = readInput(file);
        const { format, members } = parseMembers(content, space);
        const chunks = planChunks(content, members, { batchSize, space, queue });
        if (!s.json)
          printLine(
            `${file}: ${images(members.length)} (${format}) in ${chunks.length} batch${chunks.length === 1 ? '' : 'es'} for customer ` +
              `${customer}, ${queue} queue`,
          );

        const path = `/customers/${customer}/queue${options.priority ? '/priority' : ''}`;
        const batches: Batch[] = [];
        for (const chunk of chunks) {
          const { status, body } = await s.client.request<Batch>('POST', path, {
            body: { '@type': 'Collection', member: chunk.members },
            headers: { 'Idempotency-Key': chunk.idempotencyKey },
          });
          batches.push(body);
          if (!s.json)
            printLine(
              `batch ${body.id}: ${images(body.count)} ${status === 200 ? '(already submitted: resumed)' : 'submitted'} ${body['@id']}`,
            );
        }
        if (options.wait)
          return followBatches(
            s,
            batches.map((b) => b['@id']),
          );
        if (s.json) printJson(batches);
        return EXIT.ok;
      }),
    );
}
