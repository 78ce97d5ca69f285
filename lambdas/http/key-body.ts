/** The optional body of POST /customers/{customer}/keys: the privileges of the new key. */
import { z } from 'zod';
import { PRIVILEGES, type Privilege } from '../config/routes';
import { HttpError } from './problem';
import { parseJson } from './request-bodies';

/** `NewKey` in the description. */
export const newKeySchema = z
  .object({
    privileges: z
      .array(z.enum(PRIVILEGES as [Privilege, ...Privilege[]]))
      .min(1, 'a key needs at least one privilege')
      .optional(),
  })
  .strict();

/** The privileges a new key's body names; undefined when it is empty or names none (the key gets all). */
export function parseNewKey(body: string | undefined): Privilege[] | undefined {
  const raw = body?.trim();
  if (!raw) return undefined;
  const result = newKeySchema.safeParse(parseJson(raw));
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new HttpError(
      422,
      `${where}${issue?.message ?? 'invalid body'}. Send {"privileges": [...]} with any of ${PRIVILEGES.join(', ')}, or no body for all.`,
    );
  }
  return result.data.privileges;
}
