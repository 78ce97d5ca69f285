/**
 * The Batch view: one batch's counts, progress and links, its actions (Test, Cancel, Retry errors)
 * and a page of its images, all refreshed live while the batch is unfinished.
 */
import { isAbort, messageOf, reportLoadError } from './api';
import { batchIdFromUrl, type Context, can, withPageSize } from './context';
import { dataTable, descriptionList, h, pageRangeText, plural, replaceChildren, setMessage, time, uid } from './dom';
import { LiveRefresh, Serial } from './live';
import { progressBar } from './progress';
import type { Batch, Image, Images, TestResult } from './types';

export const IMAGE_PAGE_SIZE = 50;
type ImageList = 'images' | 'completedImages' | 'errorImages';
const LISTS: [ImageList, string][] = [
  ['images', 'All images'],
  ['completedImages', 'Completed'],
  ['errorImages', 'Errors'],
];
const KNOWN_STATES = new Set(['waiting', 'running', 'completed', 'error', 'cancelled']);
const COLUMNS = ['Id', 'Space', 'Origin', 'State', 'Size', 'Error', 'Strings'];

export class BatchView {
  readonly section: HTMLElement;
  private readonly heading: HTMLHeadingElement;
  private readonly details: HTMLElement;
  private readonly alert: HTMLElement;
  private readonly status: HTMLElement;
  private readonly actions: HTMLElement | undefined;
  private readonly testButton: HTMLButtonElement;
  private readonly cancelButton: HTMLButtonElement;
  private readonly retryButton: HTMLButtonElement;
  private readonly show: HTMLSelectElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly pageInfo: HTMLElement;
  private readonly previous: HTMLButtonElement;
  private readonly next: HTMLButtonElement;

  private batch: Batch;
  private list: ImageList = 'images';
  private imagesUrl: string;
  private history: string[] = [];
  private images: Images | undefined;
  private renderedBatch = '';
  private renderedImages = '';
  private signature = '';
  private busy = false;
  private disposed = false;
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  private readonly loader = new Serial(() => this.loadOnce());
  private readonly live = new LiveRefresh(
    () => this.loader.run(),
    () => !this.batch.finished,
  );

  constructor(
    private readonly ctx: Context,
    batch: Batch,
    onBack: () => void,
  ) {
    this.batch = batch;
    this.signal = AbortSignal.any([ctx.signal, this.controller.signal]);
    this.imagesUrl = withPageSize(batch[this.list], IMAGE_PAGE_SIZE);
    const headingId = uid('batch-heading');
    this.heading = h('h2', { id: headingId, tabindex: -1 }, `Batch ${batch.id}`);
    const back = h('button', { type: 'button', class: 'secondary' }, 'Back to batches');
    back.addEventListener('click', onBack);
    this.details = h('div', { class: 'batch-details' });
    this.alert = h('div', { role: 'alert', class: 'alert', hidden: true });
    this.status = h('div', { role: 'status', class: 'status' });
    this.testButton = h('button', { type: 'button' }, 'Test');
    this.cancelButton = h('button', { type: 'button', class: 'danger' }, 'Cancel');
    this.retryButton = h('button', { type: 'button' }, 'Retry errors');
    this.testButton.addEventListener('click', () => void this.test());
    this.cancelButton.addEventListener('click', () => void this.cancel());
    this.retryButton.addEventListener('click', () => void this.retry());
    if (can(ctx, 'manage')) {
      this.actions = h('div', { class: 'actions' }, this.testButton, this.cancelButton, this.retryButton);
    }

    const showId = uid('show');
    this.show = h('select', { id: showId }, ...LISTS.map(([value, label]) => h('option', { value }, label)));
    this.show.addEventListener('change', () => void this.changeList(this.show.value as ImageList));
    this.tbody = h('tbody', null, h('tr', null, h('td', { colspan: COLUMNS.length, class: 'muted' }, 'Loading…')));
    this.pageInfo = h('p', { class: 'page-info muted' });
    this.previous = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Previous page');
    this.next = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Next page');
    this.previous.addEventListener('click', () => void this.goPrevious());
    this.next.addEventListener('click', () => void this.goNext());

    this.section = h(
      'section',
      { class: 'panel batch', 'aria-labelledby': headingId },
      h('div', { class: 'section-head' }, this.heading, back),
      this.alert,
      this.details,
      this.actions,
      this.status,
      h('h3', null, 'Images'),
      h('div', { class: 'field inline' }, h('label', { for: showId }, 'Show'), this.show),
      dataTable('Images', 'images', COLUMNS, this.tbody),
      h('nav', { class: 'pager', 'aria-label': 'Image pages' }, this.previous, this.pageInfo, this.next),
    );
    this.renderBatch();
  }

  async init(): Promise<void> {
    await this.loader.run();
    this.live.ensure();
  }

  focus(): void {
    this.heading.focus();
  }

  get batchId(): number {
    return this.batch.id;
  }

  dispose(): void {
    this.disposed = true;
    this.live.dispose();
    this.controller.abort();
  }

  /** One load of the batch and the current images page; true when the progress changed. */
  private async loadOnce(): Promise<boolean> {
    const url = this.imagesUrl;
    const { api } = this.ctx;
    const signal = this.signal;
    try {
      const [batch, images] = await Promise.all([api.get<Batch>(this.batch['@id'], signal), api.get<Images>(url, signal)]);
      if (this.disposed || signal.aborted) return false;
      setMessage(this.alert, '');
      this.batch = batch;
      const changedBatch = JSON.stringify(batch);
      if (changedBatch !== this.renderedBatch) {
        this.renderedBatch = changedBatch;
        this.renderBatch();
      }
      if (url === this.imagesUrl) {
        this.images = { ...images, member: Array.isArray(images.member) ? images.member : [] };
        const renderedImages = JSON.stringify([images.member, images.view, images.totalItems]);
        if (renderedImages !== this.renderedImages) {
          this.renderedImages = renderedImages;
          this.renderImages();
        }
      }
      const signature = JSON.stringify([
        batch.completed,
        batch.errors,
        batch.cancelled,
        batch.finished,
        batch.superseded,
        batch.retries,
        this.images?.member.map((i) => [i.id, i.state]),
      ]);
      const changed = signature !== this.signature;
      this.signature = signature;
      return changed;
    } catch (error) {
      reportLoadError(error, signal, this.alert);
      this.updatePager();
      return false;
    }
  }

  private renderBatch(): void {
    const b = this.batch;
    const retries = (b.retries ?? []).map((url) => {
      const id = batchIdFromUrl(url);
      return id === undefined ? url : `Batch ${id}`;
    });
    const retryOf = b.retryOf ? batchIdFromUrl(b.retryOf) : undefined;
    replaceChildren(
      this.details,
      progressBar(b),
      descriptionList('batch-facts', [
        ['Images', String(b.count)],
        ['Completed', String(b.completed)],
        ['Errors', String(b.errors)],
        ['Cancelled', String(b.cancelled ?? 0)],
        ['Submitted', time(b.submitted)],
        ['Finished', time(b.finished)],
        ...(b.finished ? [] : ([['Est. completion', time(b.estCompletion)]] as [string, Node][])),
        ...(b.cancelledAt ? ([['Cancelled at', time(b.cancelledAt)]] as [string, Node][]) : []),
        ['Superseded', b.superseded ? 'Yes' : 'No'],
        ['Retry of', b.retryOf ? (retryOf === undefined ? b.retryOf : `Batch ${retryOf}`) : '—'],
        ['Retries', retries.length > 0 ? retries.join(', ') : '—'],
      ]),
    );
    this.updateActions();
  }

  private updateActions(): void {
    this.testButton.disabled = this.busy;
    this.cancelButton.disabled = this.busy || Boolean(this.batch.finished);
    this.retryButton.disabled = this.busy || this.batch.errors === 0;
  }

  private renderImages(): void {
    const images = this.images?.member ?? [];
    if (images.length === 0) {
      replaceChildren(this.tbody, h('tr', null, h('td', { colspan: COLUMNS.length, class: 'muted' }, 'No images in this list.')));
    } else {
      replaceChildren(this.tbody, ...images.map(imageRow));
    }
    this.updatePager();
  }

  private updatePager(): void {
    const images = this.images?.member ?? [];
    this.previous.disabled = this.history.length === 0;
    this.next.disabled = !this.images?.view.next;
    this.pageInfo.textContent = pageRangeText(this.history.length, IMAGE_PAGE_SIZE, images.length, this.images?.totalItems, 'No images');
  }

  private async changeList(list: ImageList): Promise<void> {
    this.list = list;
    this.history = [];
    await this.goTo(withPageSize(this.batch[list], IMAGE_PAGE_SIZE));
  }

  private async goNext(): Promise<void> {
    const next = this.images?.view.next;
    if (!next) return;
    this.history.push(this.imagesUrl);
    await this.goTo(withPageSize(next, IMAGE_PAGE_SIZE));
  }

  private async goPrevious(): Promise<void> {
    const previous = this.history.pop();
    if (previous === undefined) return;
    await this.goTo(previous);
  }

  private async goTo(url: string): Promise<void> {
    this.imagesUrl = url;
    this.images = undefined;
    this.renderedImages = '';
    this.previous.disabled = true;
    this.next.disabled = true;
    replaceChildren(this.tbody, h('tr', null, h('td', { colspan: COLUMNS.length, class: 'muted' }, 'Loading…')));
    await this.loader.run();
  }

  /** Runs an action: buttons disabled meanwhile, its outcome in the status region, then a fast refresh. */
  private async act(name: string, pending: string, action: () => Promise<string>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.updateActions();
    setMessage(this.status, pending);
    try {
      const message = await action();
      if (this.disposed) return;
      setMessage(this.status, message);
    } catch (error) {
      if (this.disposed || isAbort(error)) return;
      setMessage(this.status, `${name}: ${messageOf(error)}`);
    } finally {
      this.busy = false;
      if (!this.disposed) this.updateActions();
    }
    if (this.disposed) return;
    await this.loader.run();
    this.live.start();
  }

  private test(): Promise<void> {
    return this.act('Test', 'Testing…', async () => {
      const { body } = await this.ctx.api.request<TestResult>('POST', this.batch.test, { signal: this.signal });
      return body?.success ? 'Test: the batch changed' : 'Test: nothing changed';
    });
  }

  private cancel(): Promise<void> {
    return this.act('Cancel', 'Cancelling…', async () => {
      const { body } = await this.ctx.api.request<Partial<Batch> | undefined>('DELETE', this.batch['@id'], { signal: this.signal });
      const cancelled = typeof body?.cancelled === 'number' ? body.cancelled : 0;
      return `Cancelled: ${plural(cancelled, 'image')}`;
    });
  }

  private retry(): Promise<void> {
    return this.act('Retry errors', 'Retrying errors…', async () => {
      const { body } = await this.ctx.api.request<Partial<Batch> | undefined>('POST', `${this.batch['@id']}/retry`, {
        signal: this.signal,
      });
      return typeof body?.id === 'number' ? `Retry: batch ${body.id} created` : 'Retry: a batch was created';
    });
  }
}

function imageRow(image: Image): HTMLTableRowElement {
  const size = image.width !== undefined && image.height !== undefined ? `${image.width} × ${image.height}` : '—';
  const strings = [image.string1, image.string2, image.string3].filter((s): s is string => typeof s === 'string' && s !== '');
  const state = String(image.state ?? (image.ingesting ? 'waiting' : '—'));
  const stateClass = KNOWN_STATES.has(state) ? `state state-${state}` : 'state';
  return h(
    'tr',
    { 'data-testid': 'image-row' },
    h('th', { scope: 'row', class: 'wrap id' }, String(image.id)),
    h('td', { class: 'num' }, String(image.space)),
    h('td', { class: 'wrap origin' }, String(image.origin)),
    h('td', { class: 'nowrap' }, h('span', { class: stateClass }, state)),
    h('td', { class: 'nowrap' }, size),
    h('td', { class: 'wrap error' }, image.error ?? '—'),
    h('td', { class: 'wrap strings' }, strings.length > 0 ? strings.join(' · ') : '—'),
  );
}
