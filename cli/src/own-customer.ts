/**
 * The customer of a customer key, asked of the API (`GET /key`) when neither --customer nor
 * IMAGE_QUEUE_CUSTOMER names one: a user holding only a key and the API's URL need nothing else.
 * An admin key has no customer of its own; the command then asks for --customer as before.
 */
import type { Command } from 'commander';
import { ApiClient } from './api-client';
import { apiUrl, credential, ENV_NAMES, type GlobalOptions, givenCustomer } from './config';
import type { Caller } from './resources';

/** Commands that act on one customer (`queue`, `load` and `smoke` do without or choose their own). */
const CUSTOMER_COMMANDS = new Set(['submit', 'watch', 'status', 'errors', 'retry', 'cancel', 'create', 'list', 'revoke']);

export async function resolveOwnCustomer(command: Command): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions>();
  if (!CUSTOMER_COMMANDS.has(command.name()) || givenCustomer(options) !== undefined) return;
  const key = credential(options);
  if (!key) return;
  const { body } = await new ApiClient(apiUrl(options), key).get<Caller>('/key');
  if (body.customer !== undefined) process.env[ENV_NAMES.customer] = String(body.customer);
}
