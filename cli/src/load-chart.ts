/**
 * The terminal chart of `load`: the API's load samples (one per minute with any load; an absent
 * time means zero) bucketed into one column per character, each column the largest value in it.
 */
import * as asciichart from 'asciichart';
import type { LoadPage } from './resources';

/** One sample of GET /queue/load. */
export type LoadPoint = LoadPage['results'][number];

const SERIES = [
  { field: 'pending_count', label: 'pending', color: asciichart.yellow },
  { field: 'queued_count', label: 'queued', color: asciichart.blue },
  { field: 'running_count', label: 'running', color: asciichart.green },
] as const;

const DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * An instant as GET /queue/load's `started`/`ended` take it: an ISO date-time, or a duration
 * before now (`PT3H`); undefined when it is neither (the server then says why).
 */
export function instantOf(value: string, nowMs: number): number | undefined {
  const duration = DURATION.exec(value);
  if (duration && value !== 'P' && !value.endsWith('T')) {
    const [, w = '0', d = '0', h = '0', m = '0', s = '0'] = duration;
    return nowMs - ((Number(w) * 7 + Number(d)) * 86_400 + Number(h) * 3_600 + Number(m) * 60 + Number(s)) * 1000;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Three series of `columns` values over [fromMs, toMs]: the largest count of each column's samples, 0 where none. */
export function bucketLoad(points: readonly LoadPoint[], fromMs: number, toMs: number, columns: number): number[][] {
  const series = SERIES.map(() => new Array<number>(columns).fill(0));
  const span = Math.max(toMs - fromMs, 1);
  for (const point of points) {
    const column = Math.min(columns - 1, Math.max(0, Math.floor(((Date.parse(point.time) - fromMs) / span) * columns)));
    SERIES.forEach(({ field }, i) => {
      const values = series[i] as number[];
      values[column] = Math.max(values[column] as number, point[field]);
    });
  }
  return series;
}

/**
 * The chart as text, with a time axis. With colours the three series share one chart and a legend;
 * without (a log, a pipe) each gets a chart of its own, since uncoloured lines cannot be told apart.
 */
export function renderLoadChart(points: readonly LoadPoint[], fromMs: number, toMs: number, columns: number, colour: boolean): string {
  const series = bucketLoad(points, fromMs, toMs, columns);
  const format = (x: number) => String(Math.round(x)).padStart(7);
  const from = `${new Date(fromMs).toISOString().slice(0, 16)}Z`;
  const to = `${new Date(toMs).toISOString().slice(0, 16)}Z`;
  const axis = `${' '.repeat(9)}${from} ${'·'.repeat(Math.max(1, columns - from.length - to.length - 2))} ${to}`;
  if (colour) {
    const chart = asciichart.plot(series, { height: 10, format, colors: SERIES.map((s) => s.color) });
    const legend = SERIES.map((s) => `${s.color}━━${asciichart.reset} ${s.label}`).join('   ');
    return [chart, axis, `${' '.repeat(9)}${legend}`].join('\n');
  }
  return SERIES.map((s, i) => [`${s.label}:`, asciichart.plot(series[i] as number[], { height: 5, format }), axis].join('\n')).join('\n\n');
}
