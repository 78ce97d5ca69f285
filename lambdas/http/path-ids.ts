/**
 * The path ids' rule (customer, batch, space): a whole number from 0 to MAX_ID. It is read here,
 * without zod, because every API function reads path ids and loads this at cold start;
 * parameter-schemas.ts describes the same rule from these constants, and test/unit/openapi.test.ts
 * checks the two agree at the edges.
 */

/** The largest id: ids are stored and matched as integers of up to 12 digits. */
export const MAX_ID = 999_999_999_999;
export const PATH_ID_RULE = `an integer from 0 to ${MAX_ID}`;

/** The id `raw` names, or undefined when it names nothing (not a whole number, or out of range). */
export function pathIdValue(raw: string): number | undefined {
  // Whole numbers only: Number() would also take '', ' 1', '1e3' and '0x10'.
  if (!/^\d+$/.test(raw)) return undefined;
  const id = Number(raw);
  return id <= MAX_ID ? id : undefined;
}
