/**
 * The Queue section: the customer's counters and a page of batches (newest first), refreshed live
 * while any batch on the page is unfinished.
 */
import { reportLoadError } from './api';
import { type Context, withPageSize } from './context';
import { dataTable, descriptionList, h, pageRangeText, replaceChildren, setMessage, time, uid } from './dom';
import { LiveRefresh, Serial } from './live';
import { progressBar } from './progress';
import type { Batch, Batches, CustomerQueue } from './types';

export const BATCH_PAGE_SIZE = 20;
/** How long the list is refreshed for a batch just submitted that it does not show yet. */
const AWAIT_LISTED_MS = 60_000;
const COLUMNS = ['Batch', 'Images', 'Progress', 'Submitted', 'Finished', 'Est. completion', 'Notes'];

export class QueueView {
  readonly section: HTMLElement;
  private readonly counters: HTMLElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly pageInfo: HTMLElement;
  private readonly alert: HTMLElement;
  private readonly newer: HTMLButtonElement;
  private readonly older: HTMLButtonElement;

  private readonly firstPage: string;
  private url: string;
  private history: string[] = [];
  private page: Batches | undefined;
  private queue: CustomerQueue | undefined;
  private rendered = '';
  private signature = '';
  private visible = true;
  /**
   * Batches submitted from this page that the list has not shown yet, each with the time to stop
   * waiting for it: a listing may lag a write on AWS, and the refresh must go on until it shows.
   */
  private readonly awaited = new Map<number, number>();
  private readonly loader = new Serial(() => this.loadOnce());
  private readonly live = new LiveRefresh(
    () => this.loader.run(),
    () => this.visible && this.hasUnfinished(),
  );

  constructor(
    private readonly ctx: Context,
    private readonly onOpen: (batch: Batch) => void,
  ) {
    this.firstPage = ctx.api.url(`customers/${ctx.customer}/queue/batches?page=1&pageSize=${BATCH_PAGE_SIZE}`).href;
    this.url = this.firstPage;
    const heading = uid('queue-heading');
    this.counters = h('div', { class: 'counters' }, h('p', { class: 'muted' }, 'Loading…'));
    this.alert = h('div', { role: 'alert', class: 'alert', hidden: true });
    this.tbody = h('tbody', null, h('tr', null, h('td', { colspan: COLUMNS.length, class: 'muted' }, 'Loading…')));
    this.pageInfo = h('p', { class: 'page-info muted' });
    this.newer = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Newer batches');
    this.older = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Older batches');
    this.newer.addEventListener('click', () => this.goNewer());
    this.older.addEventListener('click', () => this.goOlder());
    this.section = h(
      'section',
      { class: 'panel queue', 'aria-labelledby': heading },
      h('h2', { id: heading }, 'Queue'),
      this.alert,
      this.counters,
      h('h2', null, 'Batches'),
      dataTable('Batches', 'batches', COLUMNS, this.tbody),
      h('nav', { class: 'pager', 'aria-label': 'Batch pages' }, this.newer, this.pageInfo, this.older),
    );
  }

  /** First load. */
  async init(): Promise<void> {
    await this.loader.run();
    this.live.ensure();
  }

  /** Back to the newest batches and a fast live refresh: after a submit, refreshed until `created` is listed. */
  async showNewest(created?: Batch): Promise<void> {
    if (created) this.awaited.set(created.id, Date.now() + AWAIT_LISTED_MS);
    this.history = [];
    this.url = this.firstPage;
    await this.loader.run();
    this.live.start();
  }

  /** Hidden while a batch is open; the refresh stops and starts again when shown. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    this.section.hidden = !visible;
    if (!visible) {
      this.live.stop();
      return;
    }
    void this.loader.run().then(() => this.live.start());
  }

  /** Focuses the `Batch {id}` button of a row, if it is on the page. */
  focusBatch(id: number): void {
    this.tbody.querySelector<HTMLButtonElement>(`tr[data-batch-id="${id}"] button`)?.focus();
  }

  dispose(): void {
    this.live.dispose();
  }

  private hasUnfinished(): boolean {
    return this.awaited.size > 0 || (this.page?.member ?? []).some((b) => !b.finished);
  }

  /** Forgets the awaited batches the page now lists, and those waited for long enough. */
  private settleAwaited(listed: readonly Batch[]): void {
    const now = Date.now();
    for (const [id, until] of this.awaited) {
      if (until < now || listed.some((b) => b.id === id)) this.awaited.delete(id);
    }
  }

  private async goOlder(): Promise<void> {
    const next = this.page?.view.next;
    if (!next) return;
    this.history.push(this.url);
    this.url = withPageSize(next, BATCH_PAGE_SIZE);
    this.older.disabled = true;
    await this.loader.run();
    this.live.start();
  }

  private async goNewer(): Promise<void> {
    const previous = this.history.pop();
    if (previous === undefined) return;
    this.url = previous;
    this.newer.disabled = true;
    await this.loader.run();
    this.live.start();
  }

  /** One load of the counters and the current page; true when the progress shown changed. */
  private async loadOnce(): Promise<boolean> {
    const url = this.url;
    const { api, customer, signal } = this.ctx;
    try {
      const [queue, page] = await Promise.all([
        api.get<CustomerQueue>(`customers/${customer}/queue`, signal),
        api.get<Batches>(url, signal),
      ]);
      if (signal.aborted || url !== this.url) return false;
      setMessage(this.alert, '');
      this.queue = queue;
      this.page = { ...page, member: Array.isArray(page.member) ? page.member : [] };
      this.settleAwaited(this.page.member);
      const rendered = JSON.stringify([queue, page.member, page.view, page.totalItems]);
      // The estimate moves on every call; only the counts and states decide the pace.
      const signature = JSON.stringify([
        queue.size,
        queue.batchesWaiting,
        queue.imagesWaiting,
        this.page.member.map((b) => [b.id, b.count, b.completed, b.errors, b.cancelled, b.finished, b.superseded, b.retries]),
      ]);
      const changed = signature !== this.signature;
      this.signature = signature;
      if (rendered !== this.rendered) {
        this.rendered = rendered;
        this.render();
      }
      return changed;
    } catch (error) {
      reportLoadError(error, signal, this.alert);
      this.updatePager();
      return false;
    }
  }

  private render(): void {
    const queue = this.queue;
    if (queue) {
      replaceChildren(
        this.counters,
        descriptionList('counters-list', [
          ['Images in queue', String(queue.size)],
          ['Batches waiting', String(queue.batchesWaiting)],
          ['Images waiting', String(queue.imagesWaiting)],
        ]),
      );
    }
    const batches = this.page?.member ?? [];
    const focused = document.activeElement?.closest('tr[data-batch-id]')?.getAttribute('data-batch-id');
    if (batches.length === 0) {
      replaceChildren(
        this.tbody,
        h(
          'tr',
          null,
          h('td', { colspan: COLUMNS.length, class: 'muted' }, this.history.length > 0 ? 'No older batches.' : 'No batches yet.'),
        ),
      );
    } else {
      replaceChildren(this.tbody, ...batches.map((b) => this.row(b)));
    }
    if (focused) this.tbody.querySelector<HTMLButtonElement>(`tr[data-batch-id="${CSS.escape(focused)}"] button`)?.focus();
    this.updatePager();
  }

  private updatePager(): void {
    const batches = this.page?.member ?? [];
    this.newer.disabled = this.history.length === 0;
    this.older.disabled = !this.page?.view.next;
    this.pageInfo.textContent = pageRangeText(this.history.length, BATCH_PAGE_SIZE, batches.length, this.page?.totalItems, 'No batches');
  }

  private row(batch: Batch): HTMLTableRowElement {
    const open = h('button', { type: 'button', class: 'link-button' }, `Batch ${batch.id}`);
    open.addEventListener('click', () => this.onOpen(batch));
    return h(
      'tr',
      { 'data-testid': 'batch-row', 'data-batch-id': batch.id },
      h('th', { scope: 'row' }, open),
      h('td', { class: 'num' }, String(batch.count)),
      h('td', { class: 'progress-cell' }, progressBar(batch)),
      h('td', null, time(batch.submitted)),
      h('td', null, time(batch.finished)),
      h('td', null, batch.finished ? '—' : time(batch.estCompletion)),
      h('td', { class: 'notes' }, notes(batch)),
    );
  }
}

/** Short flags of a batch, as text. */
export function notes(batch: Batch): string {
  const parts: string[] = [];
  if (batch.cancelledAt) parts.push('cancelled');
  if (batch.superseded) parts.push('superseded');
  if (batch.retryOf) {
    const id = /\/batches\/(\d+)/.exec(batch.retryOf)?.[1];
    parts.push(id ? `retry of batch ${id}` : 'retry');
  }
  if (batch.retries && batch.retries.length > 0) parts.push(`retried ${batch.retries.length}×`);
  return parts.length > 0 ? parts.join(', ') : '—';
}
