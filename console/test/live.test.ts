/**
 * The console's refresh pace (LiveRefresh), on Jest's fake clock: the first refresh after 1 s,
 * doubling to 10 s while nothing changes, back to 1 s on a change or a restart, never two ticks
 * less than 1 s apart nor overlapping, paused in a hidden tab, stopped when nothing is left to follow.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { LiveRefresh, MAX_DELAY_MS, MIN_DELAY_MS, Serial } from '../src/live';

/** Just what LiveRefresh reads of the document: `hidden` and the visibilitychange event. */
class FakeDocument extends EventTarget {
  hidden = false;
}

let fakeDocument: FakeDocument;

beforeEach(() => {
  jest.useFakeTimers({ now: 0 });
  fakeDocument = new FakeDocument();
  (globalThis as { document?: unknown }).document = fakeDocument;
});

afterEach(() => {
  jest.useRealTimers();
  delete (globalThis as { document?: unknown }).document;
});

/** A refresh that records when it ran and answers `changed()` each time. */
function recorder(changed: () => boolean = () => false, durationMs = 0) {
  const starts: number[] = [];
  let inFlight = 0;
  let overlapped = false;
  const tick = async () => {
    starts.push(Date.now());
    inFlight += 1;
    if (inFlight > 1) overlapped = true;
    if (durationMs > 0) await new Promise((resolve) => setTimeout(resolve, durationMs));
    inFlight -= 1;
    return changed();
  };
  return { starts, tick, overlapped: () => overlapped };
}

const gaps = (starts: number[]) => starts.slice(1).map((t, i) => t - (starts[i] as number));

describe('LiveRefresh', () => {
  it('starts after 1 s and doubles the wait while nothing changes, up to 10 s', async () => {
    const { starts, tick } = recorder();
    new LiveRefresh(tick, () => true).start();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(starts[0]).toBe(MIN_DELAY_MS);
    expect(gaps(starts).slice(0, 6)).toEqual([2000, 4000, 8000, MAX_DELAY_MS, MAX_DELAY_MS, MAX_DELAY_MS]);
  });

  it('goes back to 1 s as soon as something changes', async () => {
    const changes = [false, false, true, false];
    const { starts, tick } = recorder(() => changes.shift() ?? false);
    new LiveRefresh(tick, () => true).start();
    await jest.advanceTimersByTimeAsync(20_000);
    // 1 s, +2 s, +4 s (changed) → +1 s, then doubling again.
    expect(gaps(starts).slice(0, 4)).toEqual([2000, 4000, 1000, 2000]);
  });

  it('never ticks less than 1 s apart, however often it is restarted, and never two at once', async () => {
    const { starts, tick, overlapped } = recorder(() => true, 700);
    const refresh = new LiveRefresh(tick, () => true);
    for (let t = 0; t < 10_000; t += 100) {
      refresh.start();
      await jest.advanceTimersByTimeAsync(100);
    }
    expect(starts.length).toBeGreaterThan(3);
    expect(Math.min(...gaps(starts))).toBeGreaterThanOrEqual(MIN_DELAY_MS);
    expect(overlapped()).toBe(false);
  });

  it('stops when nothing is left to follow', async () => {
    let unfinished = 3;
    const { starts, tick } = recorder(() => {
      unfinished -= 1;
      return true;
    });
    const refresh = new LiveRefresh(tick, () => unfinished > 0);
    refresh.start();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(starts).toHaveLength(3);
    expect(refresh.isRunning).toBe(false);
  });

  it('waits while the tab is hidden and refreshes when it is shown again', async () => {
    const { starts, tick } = recorder();
    new LiveRefresh(tick, () => true).start();
    fakeDocument.hidden = true;
    await jest.advanceTimersByTimeAsync(60_000);
    expect(starts).toHaveLength(0);
    fakeDocument.hidden = false;
    fakeDocument.dispatchEvent(new Event('visibilitychange'));
    await jest.advanceTimersByTimeAsync(0);
    expect(starts).toHaveLength(1);
  });
});

describe('Serial', () => {
  it('runs one load at a time, and once more after it for any number of calls meanwhile', async () => {
    let calls = 0;
    const serial = new Serial(async () => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return calls;
    });
    const results = Promise.all([serial.run(), serial.run(), serial.run(), serial.run()]);
    await jest.advanceTimersByTimeAsync(1000);
    expect(await results).toEqual([1, 2, 2, 2]);
    expect(calls).toBe(2);
  });
});
