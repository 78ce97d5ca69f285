/**
 * Live refresh with back-off, and a guard against two loads of the same kind in flight.
 *
 * `LiveRefresh` calls `tick()` first after 1 s, then doubles the delay (up to 10 s) while a tick
 * reports no change, and goes back to 1 s when one does or when `start()` is called again (after a
 * submit or an action). Ticks never start less than 1 s apart, never overlap, pause while the
 * document is hidden, and stop once `active()` is false (everything shown is finished).
 */

export const MIN_DELAY_MS = 1000;
export const MAX_DELAY_MS = 10_000;

export class LiveRefresh {
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the pending timer fires (epoch ms). */
  private dueAt = 0;
  private delay = MIN_DELAY_MS;
  private running = false;
  private stopped = true;
  private restartRequested = false;
  private waitingForVisible = false;
  private lastStart = 0;

  constructor(
    /** One refresh; resolves true when something changed (false, or throws, when not). */
    private readonly tick: () => Promise<boolean>,
    /** Whether there is anything left to follow. */
    private readonly active: () => boolean,
  ) {
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  /** (Re)starts at the fastest pace, when there is something to follow. */
  start(): void {
    if (!this.active()) {
      this.stop();
      return;
    }
    this.stopped = false;
    this.delay = MIN_DELAY_MS;
    if (this.running) {
      this.restartRequested = true;
      return;
    }
    // A tick already due within the fastest pace stays where it is: restarting again and again
    // (one action after another) must hurry the refresh, never postpone it.
    if (this.timer !== undefined && this.dueAt <= Date.now() + MIN_DELAY_MS) return;
    this.schedule(MIN_DELAY_MS);
  }

  /** Starts if stopped (a page now shows unfinished work); keeps the current pace otherwise. */
  ensure(): void {
    if (this.stopped) this.start();
  }

  stop(): void {
    this.stopped = true;
    this.waitingForVisible = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.stop();
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  get isRunning(): boolean {
    return !this.stopped;
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    const earliest = this.lastStart + MIN_DELAY_MS - Date.now();
    const wait = Math.max(ms, earliest, 0);
    this.dueAt = Date.now() + wait;
    this.timer = setTimeout(this.fire, wait);
  }

  private readonly fire = async (): Promise<void> => {
    this.timer = undefined;
    if (this.stopped) return;
    if (document.hidden) {
      this.waitingForVisible = true;
      return;
    }
    if (!this.active()) {
      this.stop();
      return;
    }
    this.running = true;
    this.lastStart = Date.now();
    let changed = false;
    try {
      changed = await this.tick();
    } catch {
      changed = false;
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (!this.active()) {
      this.stop();
      return;
    }
    if (this.restartRequested || changed) this.delay = MIN_DELAY_MS;
    else this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    this.restartRequested = false;
    this.schedule(this.delay);
  };

  private readonly onVisibility = (): void => {
    if (document.hidden || !this.waitingForVisible || this.stopped) return;
    this.waitingForVisible = false;
    this.schedule(0);
  };
}

/**
 * Runs `load` with at most one call in flight: a call made meanwhile waits for the current one and
 * then runs once more (however many calls were made), so the latest state is always loaded.
 */
export class Serial<T> {
  private current: Promise<T> | undefined;
  private queued: Promise<T> | undefined;

  constructor(private readonly load: () => Promise<T>) {}

  run(): Promise<T> {
    if (!this.current) {
      this.current = this.load().finally(() => {
        this.current = undefined;
      });
      return this.current;
    }
    if (!this.queued) {
      this.queued = this.current
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.run();
        });
    }
    return this.queued;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }
}
