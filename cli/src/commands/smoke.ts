/**
 * `smoke`: the first thing to run against a fresh deployment (`cdk deploy`, LocalStack, `npm
 * start`). It submits a one-image batch and one whose origin fails, waits for both, and checks
 * the counters, every link of the batch, that a wrong secret is refused, and the error path,
 * printing PASS or FAIL per step. Exit 0 only when every step passes.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { ApiClient } from '../api-client';
import type { Batch } from '../batch';
import { customerId, nonNegativeInteger, requireCredential } from '../config';
import { EXIT } from '../errors';
import { silentReporter } from '../progress';
import type { Image } from '../resources';
import { exitWith, printLine, session } from '../session';
import { watchBatches } from '../watch';

/** How long an index-backed listing may lag behind the batch it lists. */
const INDEX_LAG_ALLOWANCE_MS = 10_000;

/** A small (1 KB), long-lived public image: the IIIF logo. */
export const DEFAULT_SMOKE_ORIGIN = 'https://iiif.io/img/logo-iiif-34x30.png';
/** Admin keys act on any customer; this one is used unless --customer or IMAGE_QUEUE_CUSTOMER names another. */
const DEFAULT_SMOKE_CUSTOMER = 1;

interface SmokeOptions {
  origin: string;
  space: string;
  timeout: string;
}

/** Runs named checks in order, printing PASS/FAIL; a failed step's message says why. */
class Steps {
  passed = 0;
  failed = 0;

  async run<T>(name: string, check: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await check();
      this.passed += 1;
      printLine(`PASS ${name}`);
      return result;
    } catch (error) {
      this.failed += 1;
      printLine(`FAIL ${name}: ${(error as Error).message}`);
      return undefined;
    }
  }
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/** An origin on the same host as `origin` that does not exist, so its fetch fails with a 404. */
export function missingOrigin(origin: string, runId: string): string {
  return new URL(`/image-queue-smoke-missing-${runId}.png`, origin).href;
}

export function registerSmoke(program: Command): void {
  program
    .command('smoke')
    .description('check a deployment end to end: submit, wait, counters, links, auth, error path')
    .option('--origin <url>', 'the image to ingest (its host must also answer 404 for a missing path)', DEFAULT_SMOKE_ORIGIN)
    .option('--space <n>', 'space for the smoke images', '1')
    .option('--timeout <seconds>', 'longest wait for the batches', '300')
    .action(
      exitWith(async (options: SmokeOptions, command: Command) => {
        const s = session(command);
        const customer = customerId(s.options, process.env, DEFAULT_SMOKE_CUSTOMER);
        const space = nonNegativeInteger(options.space, '--space');
        const timeoutMs = nonNegativeInteger(options.timeout, '--timeout') * 1000;
        const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
        const queuePath = `/customers/${customer}/queue`;
        const steps = new Steps();
        printLine(`smoke test of ${s.client.base} as customer ${customer} (run ${runId})`);

        await steps.run('the public queue answers (GET /queue)', async () => {
          // Typed loosely on purpose: the step checks the shape instead of trusting it.
          const { body } = await s.client.get<{ incoming?: unknown } | undefined>('/queue', { anonymous: true });
          expect(typeof body?.incoming === 'number', 'no incoming count in the answer');
        });
        await steps.run('a wrong secret is refused with 401', async () => {
          const [key] = requireCredential(s.options).split(':');
          const wrong = new ApiClient(s.client.base, `${key}:wrong-${runId}`);
          const { status } = await wrong.get(queuePath, { accept: [401] });
          expect(status === 401, `got ${status}`);
        });
        await steps.run("the key reads the customer's queue", () => s.client.get(queuePath));

        const submit = (id: string, origin: string) =>
          s.client
            .request<Batch>('POST', queuePath, { body: { '@type': 'Collection', member: [{ id, space, origin }] } })
            .then(({ status, body }) => {
              expect(status === 201 && body.count === 1, `got ${status} with count ${body.count}`);
              return body;
            });
        const good = await steps.run(`submit a batch of ${options.origin}`, () => submit(`smoke-${runId}`, options.origin));
        const badOrigin = missingOrigin(options.origin, runId);
        const bad = await steps.run(`submit a batch of a missing origin ${badOrigin}`, () => submit(`smoke-${runId}-missing`, badOrigin));
        const submitted = [good, bad].filter((b): b is Batch => b !== undefined);
        const finished =
          submitted.length > 0
            ? await steps.run('the batches finish', () =>
                watchBatches(
                  s.client,
                  submitted.map((b) => b['@id']),
                  { reporter: silentReporter, timeoutMs },
                ),
              )
            : undefined;
        const goodFinal = finished?.find((b) => b.id === good?.id);
        const badFinal = finished?.find((b) => b.id === bad?.id);

        if (goodFinal) {
          await steps.run('the image completed (completed = count = 1, errors = 0)', async () => {
            expect(
              goodFinal.completed === 1 && goodFinal.count === 1 && goodFinal.errors === 0,
              `count ${goodFinal.count}, completed ${goodFinal.completed}, errors ${goodFinal.errors}; ` +
                `see \`image-queue errors ${goodFinal.id}\``,
            );
          });
          await steps.run('every link of the batch resolves', async () => {
            for (const link of [goodFinal['@id'], goodFinal.images, goodFinal.completedImages, goodFinal.errorImages])
              await s.client.get(link);
            const images = await s.client.collect<Image>(goodFinal.images);
            expect(images.length === 1, `images lists ${images.length} members`);
            for (const image of images)
              for (const link of [image['@id'], image.batch].filter((l): l is string => !!l)) await s.client.get(link);
          });
        }
        if (badFinal) {
          await steps.run('the missing origin is an error (errors = 1)', async () => {
            expect(badFinal.errors === 1 && badFinal.completed === 0, `completed ${badFinal.completed}, errors ${badFinal.errors}`);
          });
          await steps.run('errorImages lists it with its error', async () => {
            // errorImages reads an index, which shows a write a moment after the batch does (AWS's
            // global secondary indexes are eventually consistent): allow it a few seconds.
            let images = await s.client.collect<Image>(badFinal.errorImages);
            for (const deadline = Date.now() + INDEX_LAG_ALLOWANCE_MS; images.length === 0 && Date.now() < deadline; ) {
              await new Promise((resolve) => setTimeout(resolve, 500));
              images = await s.client.collect<Image>(badFinal.errorImages);
            }
            expect(
              images.length === 1 && images[0]?.id === `smoke-${runId}-missing` && !!images[0].error,
              `errorImages holds ${JSON.stringify(images.map((i) => i.id))}`,
            );
          });
        }
        printLine(`${steps.failed === 0 ? 'PASS' : 'FAIL'}: ${steps.passed} passed, ${steps.failed} failed`);
        return steps.failed === 0 ? EXIT.ok : EXIT.failure;
      }),
    );
}
