/** The CLI's exit codes and the error a command throws to end with a one-line message. */

export const EXIT = {
  /** Everything asked for was done (every image completed). */
  ok: 0,
  /** A usage error, a server error or a failed check. */
  failure: 1,
  /** The batches finished but some images failed or were cancelled. */
  someFailed: 2,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
