/** Time, injectable: local runs compress the waits with a virtual clock the synthetic traffic shares. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
