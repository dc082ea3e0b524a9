import type { Clock } from '../functions/ports/clock.js';

/**
 * Something that must see virtual time pass instant by instant rather than jump over it: the
 * local CloudWatch evaluates its alarms at each minute boundary, with the clock at that minute.
 */
export interface ClockListener {
  /** The next instant it wants to be called at (may already be past: it is then called late). */
  nextInstant(): Date;
  /** Called with the clock at `instant` (or later, when the instant is already past). */
  at(instant: Date): Promise<void>;
}

/**
 * Wall-clock time plus an offset that jumps forward by every Wait state's duration. Local runs
 * compress a 10-minute window into milliseconds while the handlers, the synthetic traffic and the
 * readiness deadlines all see the full 10 minutes pass. Real time still flows (pods become Ready
 * on the local cluster in real time).
 *
 * {@link advanceInSteps} moves through a Wait instant by instant instead: the listeners (the local
 * CloudWatch) run at each instant they ask for, with the clock there, and whatever they do (an
 * alarm's rollback) happens at that virtual time, however long it takes in real time.
 */
export class VirtualClock implements Clock {
  private offsetMs = 0;
  private readonly listeners: ClockListener[] = [];
  private steps: Promise<void> = Promise.resolve();

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /** Moves virtual time forward at once (listeners catch up at the next stepped advance). */
  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`cannot advance by ${seconds} s`);
    this.offsetMs += seconds * 1000;
  }

  /** Seconds virtual time is ahead of the wall clock. */
  get skewSeconds(): number {
    return this.offsetMs / 1000;
  }

  /** Adds a listener that {@link advanceInSteps} calls at each instant it asks for. */
  listen(listener: ClockListener): void {
    this.listeners.push(listener);
  }

  /**
   * Moves virtual time forward by `seconds`, stopping at every instant a listener asks for on the
   * way (and first at any it missed) and awaiting it there. Stops early, at the instant just
   * handled, when `keepGoing()` turns false (the execution that waits was stopped). Calls run one
   * after the other: a second call starts where the first ended.
   */
  advanceInSteps(seconds: number, keepGoing: () => boolean = () => true): Promise<void> {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`cannot advance by ${seconds} s`);
    const run = async () => {
      const target = this.now().getTime() + seconds * 1000;
      for (;;) {
        let first: { listener: ClockListener; at: number } | null = null;
        for (const listener of this.listeners) {
          const at = listener.nextInstant().getTime();
          if (at <= target && (first === null || at < first.at)) first = { listener, at };
        }
        if (!first) break;
        this.moveTo(first.at);
        await first.listener.at(new Date(first.at));
        if (!keepGoing()) return;
      }
      this.moveTo(target);
    };
    const step = this.steps.then(run, run);
    this.steps = step.catch(() => undefined);
    return step;
  }

  private moveTo(ms: number): void {
    const now = this.now().getTime();
    if (ms > now) this.offsetMs += ms - now;
  }
}
