/**
 * DOM building without HTML strings: every value, API data included, goes in as a text node or a
 * plain attribute value. Attributes that could run code or load a URL are refused outright.
 */

export type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Record<string, AttrValue>;
export type Child = Node | string | number | null | undefined | false | readonly Child[];

/** Event handlers, inline styles and URL-carrying attributes never come from here. */
const FORBIDDEN_ATTRIBUTE = /^(on.*|style|href|src|srcset|srcdoc|action|formaction|xlink:href|data)$/i;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (FORBIDDEN_ATTRIBUTE.test(name)) throw new Error(`h(): the attribute ${name} is not allowed`);
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children as nodes; strings and numbers become text nodes. */
export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A plain text message in a live region; an empty message hides an alert region. */
export function setMessage(region: HTMLElement, message: string): void {
  region.textContent = message;
  if (region.getAttribute('role') === 'alert') region.hidden = message === '';
}

let nextId = 0;
/** An id unique in the page. */
export function uid(prefix: string): string {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A `<time>` with the ISO value in `datetime` and the user's locale as text. */
export function time(iso: string | undefined, fallback = '—'): Node {
  if (!iso) return document.createTextNode(fallback);
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return document.createTextNode(iso);
  return h('time', { datetime: iso }, date.toLocaleString());
}

/** A `<dl>` from label/value pairs. */
export function descriptionList(className: string, entries: readonly [string, Child][]): HTMLDListElement {
  return h('dl', { class: className }, ...entries.map(([term, value]) => h('div', null, h('dt', null, term), h('dd', null, value))));
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The pager's words: "Showing 21–40 of 57" for page `index` (from 0) of `size` items with `shown` on it. */
export function pageRangeText(index: number, size: number, shown: number, total: number | undefined, none: string): string {
  const start = index * size;
  const last = start + shown;
  const range = shown === 0 ? none : last === start + 1 ? `Showing ${last}` : `Showing ${start + 1}–${last}`;
  return total === undefined ? range : `${range} of ${total}`;
}

/** A table named for assistive technology, with a header row of `columns`, scrolling inside its own box. */
export function dataTable(name: string, className: string, columns: readonly string[], tbody: HTMLTableSectionElement): HTMLDivElement {
  return h(
    'div',
    { class: 'table-scroll' },
    h(
      'table',
      { class: `data ${className}`, 'aria-label': name },
      h('thead', null, h('tr', null, ...columns.map((c) => h('th', { scope: 'col' }, c)))),
      tbody,
    ),
  );
}
