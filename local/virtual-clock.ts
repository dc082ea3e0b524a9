import type { Clock } from '../functions/ports/clock.js';

/**
 * Wall-clock time plus an offset that jumps forward by every Wait state's duration. Local runs
 * compress a 10-minute window into milliseconds while the handlers, the synthetic traffic and the
 * readiness deadlines all see the full 10 minutes pass. Real time still flows (pods become Ready
 * on the local cluster in real time).
 */
export class VirtualClock implements Clock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /** Moves virtual time forward. */
  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`cannot advance by ${seconds} s`);
    this.offsetMs += seconds * 1000;
  }

  /** Seconds virtual time is ahead of the wall clock. */
  get skewSeconds(): number {
    return this.offsetMs / 1000;
  }
}
