/**
 * Reads the file `submit` is given into the members of a hydra collection. Three forms, told
 * apart by their content: a JSON collection (`{"@type":"Collection","member":[…]}`), a CSV whose
 * header names an `origin` column, or a list of origin URLs one per line.
 */
import { parse } from 'csv-parse/sync';
import { CliError } from './errors';

/** One image as the API takes it; the server validates every field. */
export type Member = Record<string, unknown>;

export type InputFormat = 'json' | 'csv' | 'urls';

const INTEGER_FIELDS = new Set(['space', 'number1', 'number2', 'number3', 'maxUnauthorised']);
const LIST_FIELDS = new Set(['tags', 'roles']);
const STRING_FIELDS = new Set(['id', 'origin', 'mediaType', 'family', 'string1', 'string2', 'string3']);
const CSV_COLUMNS = [...STRING_FIELDS, ...INTEGER_FIELDS, ...LIST_FIELDS];

/** The longest image id the API accepts, and the characters it allows. */
const MAX_ID_LENGTH = 200;
const ID_FORBIDDEN = /[^A-Za-z0-9._~-]+/g;

export function detectFormat(content: string): InputFormat {
  const text = content.replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('{') || text.startsWith('[')) return 'json';
  const header = text.split(/\r?\n/, 1)[0] ?? '';
  return header.split(',').some((cell) => cell.trim().replace(/^"|"$/g, '') === 'origin') ? 'csv' : 'urls';
}

/** The members in `content`; `space` is used where the file gives none (URL lists, a CSV without a space column). */
export function parseMembers(content: string, space: number): { format: InputFormat; members: Member[] } {
  const format = detectFormat(content);
  const text = content.replace(/^\uFEFF/, '');
  const members = format === 'json' ? fromJson(text) : format === 'csv' ? fromCsv(text, space) : fromUrlList(text, space);
  if (members.length === 0) throw new CliError('The file holds no images.');
  return { format, members };
}

function fromJson(text: string): Member[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError(`The file is not valid JSON: ${(error as Error).message}`);
  }
  const member = (parsed as { member?: unknown } | null)?.member;
  if (!Array.isArray(member)) throw new CliError('A JSON file must be a hydra collection: {"@type":"Collection","member":[…]}.');
  return member as Member[];
}

function fromCsv(text: string, space: number): Member[] {
  let rows: Record<string, string>[];
  try {
    rows = parse(text, { columns: (header: string[]) => header.map((h) => h.trim()), skip_empty_lines: true, trim: true });
  } catch (error) {
    throw new CliError(`The CSV cannot be read: ${(error as Error).message}`);
  }
  const columns = Object.keys(rows[0] ?? {});
  const unknown = columns.filter((c) => !CSV_COLUMNS.includes(c));
  if (unknown.length > 0) throw new CliError(`Unknown CSV column(s) ${unknown.join(', ')}; known: ${CSV_COLUMNS.join(', ')}.`);
  const ids = new UniqueIds();
  return rows.map((row, i) => {
    const member: Member = {};
    for (const [column, cell] of Object.entries(row)) {
      if (cell === '') continue;
      member[column] = csvValue(column, cell, i + 2);
    }
    member.space ??= space;
    if (member.id === undefined && typeof member.origin === 'string') member.id = ids.claim(idFromUrl(member.origin));
    return member;
  });
}

/** A CSV cell as the API wants it: integers for the number fields, lists split on commas. */
function csvValue(column: string, cell: string, line: number): unknown {
  if (INTEGER_FIELDS.has(column)) {
    if (!/^-?\d+$/.test(cell)) throw new CliError(`CSV line ${line}: ${column} must be an integer, not '${cell}'.`);
    return Number(cell);
  }
  if (LIST_FIELDS.has(column))
    return cell
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return cell;
}

function fromUrlList(text: string, space: number): Member[] {
  const ids = new UniqueIds();
  const members: Member[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!/^https?:\/\/\S+$/i.test(line)) {
      throw new CliError(`Line ${i + 1} is not an http(s) URL: '${line.slice(0, 80)}' (a CSV needs a header naming an origin column).`);
    }
    members.push({ id: ids.claim(idFromUrl(line)), space, origin: line });
  });
  return members;
}

/** An image id from a URL: its last path segment, decoded, with characters the API refuses replaced. */
export function idFromUrl(url: string): string {
  let segment = '';
  try {
    segment = new URL(url).pathname.split('/').filter(Boolean).pop() ?? '';
    segment = decodeURIComponent(segment);
  } catch {
    // An undecodable segment keeps its raw form; the replacement below makes it valid.
  }
  const id = segment.replace(ID_FORBIDDEN, '-').replace(/^-+|-+$/g, '');
  return id === '' ? 'image' : id.slice(0, MAX_ID_LENGTH);
}

/** Makes ids unique in file order: the second `a.jpg` becomes `a.jpg-2`, and so on. */
export class UniqueIds {
  private readonly seen = new Set<string>();

  claim(id: string): string {
    let candidate = id;
    for (let n = 2; this.seen.has(candidate); n++) {
      const suffix = `-${n}`;
      candidate = id.slice(0, MAX_ID_LENGTH - suffix.length) + suffix;
    }
    this.seen.add(candidate);
    return candidate;
  }
}
