/**
 * The new pods' health as the runbook judges it (pure): "no crashing pods", every pod Ready, no
 * restarts. The cluster adapter reads it (functions/adapters/kubernetes); the readiness step and
 * the window verdict judge it here.
 */
import type { CheckResult } from './record.js';

/** Status of a set of pods (one version). */
export interface WorkloadHealth {
  readonly desired: number;
  readonly ready: number;
  readonly updated: number;
  readonly restarts: number;
  readonly crashLooping: readonly string[];
  readonly oomKilled: readonly string[];
  /** Running but not Ready pods, by name. */
  readonly notReady: readonly string[];
  /** One line per pod: `name phase ready restarts reason`. */
  readonly pods: readonly string[];
}

/** `3/4 ready; 1 restarts; CrashLoopBackOff: p1`: the pods in one line, for the record. */
export function podSummary(h: WorkloadHealth): string {
  const parts = [`${h.ready}/${h.desired} ready`, `${h.restarts} restarts`];
  if (h.crashLooping.length) parts.push(`CrashLoopBackOff: ${h.crashLooping.join(', ')}`);
  if (h.oomKilled.length) parts.push(`OOMKilled: ${h.oomKilled.join(', ')}`);
  if (h.notReady.length) parts.push(`not ready: ${h.notReady.join(', ')}`);
  return parts.join('; ');
}

/**
 * The window's pod check: passes only when every desired pod is Ready, none crash-loops, was
 * OOM-killed, is unready or restarted. Zero desired pods never passes (nothing was judged).
 */
export function podCheck(h: WorkloadHealth): CheckResult {
  const bad = h.crashLooping.length + h.oomKilled.length + h.notReady.length;
  const ok = bad === 0 && h.restarts === 0 && h.desired > 0 && h.ready >= h.desired;
  return {
    name: 'pods',
    verdict: ok ? 'pass' : 'fail',
    detail: podSummary(h),
    value: h.restarts,
    threshold: 0,
  };
}

/** What "Check <Phase> Pods Ready" concludes from one reading. */
export type Readiness = 'ready' | 'waiting' | 'failed';

/**
 * Readiness of the new pods after `elapsedSeconds` (pure): failed at once when a pod crash-loops
 * or was OOM-killed; ready when every desired pod is Ready and updated; failed once the deadline
 * passed; waiting otherwise. Returns the reason for the record.
 */
export function judgeReadiness(
  h: WorkloadHealth,
  elapsedSeconds: number,
  deadlineSeconds: number,
): { readonly status: Readiness; readonly reason: string } {
  if (h.crashLooping.length > 0 || h.oomKilled.length > 0) {
    return { status: 'failed', reason: `new pods failing: ${podSummary(h)}` };
  }
  if (h.desired > 0 && h.ready >= h.desired && h.updated >= h.desired) {
    return { status: 'ready', reason: `${podSummary(h)} after ${Math.round(elapsedSeconds)} s` };
  }
  if (elapsedSeconds > deadlineSeconds) {
    return {
      status: 'failed',
      reason: `readiness deadline of ${deadlineSeconds} s passed: ${podSummary(h)}`,
    };
  }
  return { status: 'waiting', reason: `${podSummary(h)} after ${Math.round(elapsedSeconds)} s` };
}
