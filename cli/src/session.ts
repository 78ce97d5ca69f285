/**
 * What every command starts from: the client for the configured API and credential, the customer,
 * `--json`, and the few ways the CLI writes output.
 */
import type { Command } from 'commander';
import { ApiClient } from './api-client';
import { apiUrl, credential, customerId, type GlobalOptions, requireCredential } from './config';
import { CliError } from './errors';

export interface Session {
  client: ApiClient;
  options: GlobalOptions;
  json: boolean;
  /** The customer to act on (--customer or IMAGE_QUEUE_CUSTOMER, else an error). */
  customer(): number;
  /** A batch's URL from its id, or the URL itself when given one (links the API printed). */
  batchUrl(batch: string): string;
}

export function session(command: Command, { credentialRequired = true } = {}): Session {
  const options = command.optsWithGlobals<GlobalOptions>();
  const client = new ApiClient(apiUrl(options), credentialRequired ? requireCredential(options) : credential(options));
  const customer = () => customerId(options);
  return {
    client,
    options,
    json: options.json === true,
    customer,
    batchUrl(batch) {
      if (/^https?:\/\//.test(batch)) return batch;
      if (!/^\d{1,15}$/.test(batch)) throw new CliError(`A batch is its number or its URL, not '${batch}'.`);
      return `${client.base}/customers/${customer()}/queue/batches/${batch}`;
    },
  };
}

export function printLine(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Wraps a command's action so that the number it returns becomes the process's exit code. */
export function exitWith<A extends unknown[]>(action: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args) => {
    process.exitCode = await action(...args);
  };
}
