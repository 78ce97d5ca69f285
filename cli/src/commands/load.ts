/** `load`: GET /queue/load drawn as a chart of pending, queued and running images over time. */
import type { Command } from 'commander';
import { givenCustomer } from '../config';
import { CliError, EXIT } from '../errors';
import { instantOf, type LoadPoint, renderLoadChart } from '../load-chart';
import type { LoadPage } from '../resources';
import { exitWith, printJson, printLine, session } from '../session';

interface LoadOptions {
  started: string;
  ended?: string;
  queue?: string;
}

/** The API's largest page, so a week of minutes takes few requests. */
const PAGE_SIZE = 1000;

export function registerLoad(program: Command): void {
  program
    .command('load')
    .description('a chart of the queue load over time (pending, queued, running)')
    .option('--started <when>', 'ISO-8601 date-time or duration before now', 'PT6H')
    .option('--ended <when>', 'ISO-8601 date-time or duration before now (default now)')
    .option('--queue <queue>', 'main or priority (default both)')
    .action(
      exitWith(async (options: LoadOptions, command: Command) => {
        const s = session(command);
        const query = new URLSearchParams({ started: options.started, page_size: String(PAGE_SIZE) });
        if (options.ended) query.set('ended', options.ended);
        if (options.queue) query.set('queue', options.queue);
        const customer = givenCustomer(s.options);
        if (customer !== undefined) query.set('customer', String(customer));

        const results: LoadPoint[] = [];
        let next: string | null = `/queue/load?${query.toString()}`;
        while (next) {
          const page: LoadPage = (await s.client.get<LoadPage>(next)).body;
          results.push(...page.results);
          next = page.next;
        }
        if (s.json) {
          printJson({ count: results.length, results });
          return EXIT.ok;
        }
        const now = Date.now();
        const from = instantOf(options.started, now);
        const to = options.ended ? instantOf(options.ended, now) : now;
        if (from === undefined || to === undefined)
          throw new CliError('--started and --ended take an ISO-8601 date-time or duration (PT3H).');
        if (results.length === 0) {
          printLine('no load in this range (a time without a sample means nothing was pending, queued or running)');
          return EXIT.ok;
        }
        const columns = Math.max(40, Math.min(120, (process.stdout.columns ?? 80) - 12));
        printLine(renderLoadChart(results, from, to, columns, process.stdout.isTTY === true));
        return EXIT.ok;
      }),
    );
}
