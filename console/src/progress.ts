/**
 * A batch's progress: a `role="progressbar"` stacked bar (completed, errors, cancelled, waiting)
 * and a text legend with the four numbers. Segment widths are set through the CSSOM
 * (`el.style.width`), which the page's CSP allows, never through a style attribute.
 */
import { h } from './dom';
import type { Batch } from './types';

export interface Progress {
  count: number;
  completed: number;
  errors: number;
  cancelled: number;
  waiting: number;
  done: number;
  percent: number;
}

export function progressOf(batch: Pick<Batch, 'count' | 'completed' | 'errors' | 'cancelled'>): Progress {
  const count = Math.max(batch.count, 0);
  const completed = Math.max(batch.completed, 0);
  const errors = Math.max(batch.errors, 0);
  const cancelled = Math.max(batch.cancelled ?? 0, 0);
  const done = completed + errors + cancelled;
  const waiting = Math.max(count - done, 0);
  const percent = count === 0 ? 100 : Math.min(100, Math.round((100 * done) / count));
  return { count, completed, errors, cancelled, waiting, done, percent };
}

export function progressText(p: Progress): string {
  return `${p.done} of ${p.count} done: ${p.completed} completed, ${p.errors} errors, ${p.cancelled} cancelled, ${p.waiting} waiting`;
}

const SEGMENTS = ['completed', 'errors', 'cancelled', 'waiting'] as const;

/** The bar and its legend, in a wrapper element. */
export function progressBar(batch: Batch): HTMLElement {
  const p = progressOf(batch);
  const bar = h('div', {
    class: 'progress',
    role: 'progressbar',
    'aria-label': `Batch ${batch.id} progress`,
    'aria-valuemin': 0,
    'aria-valuemax': 100,
    'aria-valuenow': p.percent,
    'aria-valuetext': progressText(p),
  });
  const total = p.count === 0 ? 0 : Math.max(p.count, p.done);
  for (const segment of SEGMENTS) {
    const value = p[segment];
    if (value === 0 || total === 0) continue;
    const el = h('div', { class: `progress-segment progress-${segment}` });
    el.style.width = `${(100 * value) / total}%`;
    bar.appendChild(el);
  }
  const legend = h(
    'p',
    { class: 'progress-legend' },
    ...SEGMENTS.map((segment) =>
      h(
        'span',
        { class: 'legend-item' },
        h('span', { class: `swatch progress-${segment}`, 'aria-hidden': 'true' }),
        `${p[segment]} ${segment}`,
      ),
    ),
  );
  return h('div', { class: 'progress-wrap' }, bar, legend);
}
