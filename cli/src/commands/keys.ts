/** `keys create|list|revoke`: a customer's API keys (admin keys only, as the routes are). */
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors';
import type { Key } from '../resources';
import { exitWith, printJson, printLine, session } from '../session';
import { plainTable } from './read';

const PRIVILEGES = ['read', 'submit', 'manage'];

function parsePrivileges(raw: string): string[] {
  const privileges = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const unknown = privileges.filter((p) => !PRIVILEGES.includes(p));
  if (privileges.length === 0 || unknown.length > 0)
    throw new CliError(`--privileges takes a comma-separated list of ${PRIVILEGES.join(', ')}.`);
  return privileges;
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description("manage a customer's API keys (admin key needed)");

  keys
    .command('create')
    .description('create a key; its secret is shown this once')
    .option('--privileges <list>', `comma-separated: ${PRIVILEGES.join(', ')} (default all)`)
    .action(
      exitWith(async (options: { privileges?: string }, command: Command) => {
        const s = session(command);
        const customer = s.customer();
        const body = options.privileges ? { privileges: parsePrivileges(options.privileges) } : undefined;
        const { body: key } = await s.client.request<Key>('POST', `/customers/${customer}/keys`, body ? { body } : {});
        if (s.json) printJson(key);
        else {
          printLine(`key ${key.key} for customer ${key.customer}: ${key.privileges.join(', ')}`);
          printLine(`secret ${key.secret} (shown once; store it now)`);
          printLine(`use: --key '${key.key}:${key.secret}' --customer ${key.customer}`);
        }
        return EXIT.ok;
      }),
    );

  keys
    .command('list')
    .description("the customer's keys (no secrets)")
    .action(
      exitWith(async (_options: object, command: Command) => {
        const s = session(command);
        const customer = s.customer();
        const found = await s.client.collect<Key>(`/customers/${customer}/keys`);
        if (s.json) printJson(found);
        else if (found.length === 0) printLine(`customer ${customer} has no keys`);
        else {
          const table = plainTable(['key', 'privileges', 'created']);
          for (const key of found) table.push([key.key, key.privileges.join(','), key.created]);
          printLine(table.toString());
        }
        return EXIT.ok;
      }),
    );

  keys
    .command('revoke')
    .description('revoke a key: refused from its next request')
    .argument('<key>', 'the key (without its secret)')
    .action(
      exitWith(async (key: string, _options: object, command: Command) => {
        const s = session(command);
        const customer = s.customer();
        await s.client.request('DELETE', `/customers/${customer}/keys/${encodeURIComponent(key)}`);
        if (s.json) printJson({ revoked: key, customer });
        else printLine(`revoked key ${key} of customer ${customer}`);
        return EXIT.ok;
      }),
    );
}
