/**
 * The Load section: pending / queued / running members over the last hour, day or week from
 * `GET /queue/load`, drawn with Chart.js on a linear time axis (epoch ms, no date adapter).
 * A sample time the API leaves out means zero load, so gaps are drawn down to zero.
 */
import { Chart, Decimation, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { reportLoadError } from './api';
import type { Context } from './context';
import { h, setMessage, uid } from './dom';
import { Serial } from './live';
import type { LoadSample, QueueLoad } from './types';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip, Decimation);

const RANGES = [
  { value: 'PT1H', label: 'Last hour', ms: 3_600_000, step: 10 * 60_000 },
  { value: 'P1D', label: 'Last day', ms: 86_400_000, step: 3 * 3_600_000 },
  { value: 'P7D', label: 'Last week', ms: 7 * 86_400_000, step: 86_400_000 },
] as const;
type Range = (typeof RANGES)[number];

const REFRESH_MS = 60_000;
const MAX_PAGES = 20;
const PAGE_SIZE = 1000;
/** Samples are a minute apart: a longer gap is a stretch of zero load. */
const SAMPLE_MS = 60_000;

const SERIES = [
  { key: 'pending_count', label: 'Pending', color: '#6b4fa3', dash: [6, 4] },
  { key: 'queued_count', label: 'Queued', color: '#b35900', dash: [] },
  { key: 'running_count', label: 'Running', color: '#1f5fbf', dash: [] },
] as const;

interface Point {
  x: number;
  y: number;
}

export class LoadView {
  readonly section: HTMLElement;
  private readonly range: HTMLSelectElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly summary: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly alert: HTMLElement;
  private chart: Chart<'line', Point[]> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly loader = new Serial(() => this.loadOnce());

  constructor(private readonly ctx: Context) {
    const headingId = uid('load-heading');
    const rangeId = uid('range');
    const summaryId = uid('load-summary');
    this.range = h('select', { id: rangeId }, ...RANGES.map((r) => h('option', { value: r.value }, r.label)));
    this.range.addEventListener('change', () => void this.loader.run());
    this.canvas = h('canvas', { role: 'img', 'aria-label': 'Queue load chart', 'aria-describedby': summaryId });
    this.summary = h('p', { id: summaryId, class: 'visually-hidden' }, 'Loading the queue load…');
    this.empty = h('p', { class: 'chart-empty', hidden: true }, 'No load in this range');
    this.alert = h('div', { role: 'alert', class: 'alert', hidden: true });
    this.section = h(
      'section',
      { class: 'panel load', 'aria-labelledby': headingId },
      h('h2', { id: headingId }, 'Load'),
      h('div', { class: 'field inline' }, h('label', { for: rangeId }, 'Range'), this.range),
      this.alert,
      h('div', { class: 'chart-box' }, this.canvas, this.empty),
      this.summary,
    );
  }

  /** Call once the section is in the document (Chart.js measures its container). */
  init(): void {
    void this.loader.run();
    this.timer = setInterval(() => {
      if (!document.hidden) void this.loader.run();
    }, REFRESH_MS);
  }

  dispose(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.chart?.destroy();
    this.chart = undefined;
  }

  private selectedRange(): Range {
    return RANGES.find((r) => r.value === this.range.value) ?? RANGES[0];
  }

  private async loadOnce(): Promise<void> {
    const range = this.selectedRange();
    const { api, customer, signal } = this.ctx;
    try {
      const samples: LoadSample[] = [];
      const query = new URLSearchParams({ started: range.value, customer: String(customer), page_size: String(PAGE_SIZE) });
      let next: string | null = `queue/load?${query}`;
      for (let pages = 0; next && pages < MAX_PAGES; pages++) {
        const page: QueueLoad = await api.get<QueueLoad>(next, signal);
        if (Array.isArray(page.results)) samples.push(...page.results);
        next = page.next;
      }
      if (signal.aborted || range !== this.selectedRange()) return;
      setMessage(this.alert, '');
      this.draw(range, samples);
    } catch (error) {
      reportLoadError(error, signal, this.alert);
    }
  }

  private draw(range: Range, samples: LoadSample[]): void {
    const sorted = samples
      .map((s) => ({ ...s, t: Date.parse(s.time) }))
      .filter((s) => Number.isFinite(s.t))
      .sort((a, b) => a.t - b.t);
    const end = Date.now();
    const start = end - range.ms;
    const datasets = SERIES.map((series) => ({
      label: series.label,
      data: withZeros(
        sorted.map((s) => ({ x: s.t, y: Number(s[series.key]) || 0 })),
        start,
        end,
      ),
      borderColor: series.color,
      backgroundColor: series.color,
      borderDash: [...series.dash],
      borderWidth: 2,
      pointRadius: 0,
      pointHoverRadius: 3,
      tension: 0,
    }));
    if (!this.chart) {
      this.chart = new Chart(this.canvas, {
        type: 'line',
        data: { datasets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          parsing: false,
          normalized: true,
          interaction: { mode: 'nearest', axis: 'x', intersect: false },
          scales: scales(range, start, end),
          plugins: {
            legend: { position: 'bottom' },
            decimation: { enabled: true, algorithm: 'min-max' },
            tooltip: { callbacks: { title: (items) => (items[0] ? new Date(items[0].parsed.x ?? 0).toLocaleString() : '') } },
          },
        },
      });
    } else {
      this.chart.data.datasets = datasets;
      this.chart.options.scales = scales(range, start, end);
    }
    this.chart.update('none');

    const peak = (key: (typeof SERIES)[number]['key']) => sorted.reduce((max, s) => Math.max(max, Number(s[key]) || 0), 0);
    this.empty.hidden = sorted.length > 0;
    this.summary.textContent =
      sorted.length === 0
        ? `0 samples; No load in this range (${range.label.toLowerCase()})`
        : `${sorted.length} samples; peak pending ${peak('pending_count')}; peak queued ${peak('queued_count')}; ` +
          `peak running ${peak('running_count')}`;
    this.canvas.setAttribute('data-points', String(sorted.length));
    this.canvas.setAttribute('data-drawn', 'true');
  }
}

/** The points with zeros where samples are missing (before, between and after them), by increasing x. */
export function withZeros(points: Point[], start: number, end: number): Point[] {
  const zeros: Point[] = [];
  let previous = start - SAMPLE_MS;
  for (const point of [...points, { x: end + SAMPLE_MS, y: 0 }]) {
    if (point.x - previous > 1.5 * SAMPLE_MS) {
      zeros.push({ x: Math.max(previous + SAMPLE_MS, start), y: 0 });
      zeros.push({ x: Math.min(point.x - SAMPLE_MS, end), y: 0 });
    }
    previous = Math.max(previous, point.x);
  }
  const real = new Set(points.map((p) => p.x));
  const all = [...points, ...zeros.filter((z) => !real.has(z.x))].sort((a, b) => a.x - b.x);
  // Chart.js's decimation wants strictly increasing x.
  return all.filter((p, i) => i === 0 || p.x !== all[i - 1]?.x);
}

/** A linear x axis over [start, end] in epoch ms, ticks every `range.step` shown as local times. */
function scales(range: Range, start: number, end: number) {
  const formatTick = tickFormatter(range);
  return {
    x: {
      type: 'linear' as const,
      min: start,
      max: end,
      // Ticks on round local times (every 10 minutes, 3 hours, or midnight), not on multiples from `start`.
      afterBuildTicks: (axis: { ticks: { value: number }[] }) => {
        axis.ticks = alignedTicks(start, end, range.step);
      },
      ticks: { callback: (value: number | string) => formatTick(Number(value)), maxRotation: 0, autoSkip: true },
    },
    y: { type: 'linear' as const, beginAtZero: true, suggestedMax: 5, ticks: { precision: 0 }, title: { display: true, text: 'Images' } },
  };
}

/** Multiples of `step` in local time between start and end. */
export function alignedTicks(start: number, end: number, step: number): { value: number }[] {
  const offset = -new Date(start).getTimezoneOffset() * 60_000;
  const ticks: { value: number }[] = [];
  for (let t = Math.ceil((start + offset) / step) * step - offset; t <= end; t += step) ticks.push({ value: t });
  return ticks;
}

function tickFormatter(range: Range): (ms: number) => string {
  const format =
    range.value === 'P7D'
      ? new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
      : new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  return (ms) => format.format(new Date(ms));
}
