/**
 * The cut-point fault matrix: a release step (shift, clean up, roll back) is interrupted at every
 * point where it is about to write (a Kubernetes mutation or a table write) or has just written,
 * either by killing it (its later requests never leave) or by taking the deployments table away
 * from then on; or its Kubernetes credential is refused (a real 401) at each of its mutations.
 * Each cut is one run with its own outcome:
 *
 * - write-ahead: if the cluster changed during the interrupted attempt, the record already holds
 *   the step's intent (or, for a rollback, its claim): no change the table does not know of;
 * - recovery: running the step again (the state machine's retry; for a refused credential, the
 *   client's one renewal within the same attempt) reaches the end state of an uninterrupted run,
 *   compared in full (test/helpers/fingerprint.ts: every Deployment, Service and Ingress, the
 *   lock, the record), so the record counts the work once and nothing else differs;
 * - afterwards a rollback restores the recorded plan exactly and frees the lock.
 *
 * Used by test/integration/faults-cuts.test.ts, faults-classes.test.ts and bench/faults.ts. The
 * other fault classes (name reuse, late events, lock leak) are in test/helpers/fault-scenarios.ts.
 */
import { parseExecutionInput, type ReleasePlan } from '../../functions/domain/input.js';
import type { ReleasePorts } from '../../functions/ports/release.js';
import { beginRelease } from '../../functions/release/begin.js';
import { finalizeRelease } from '../../functions/release/finish.js';
import { rollBackFromStateMachine } from '../../functions/release/rollback.js';
import { shiftTraffic } from '../../functions/release/shift.js';
import { KillSwitch, killMiddleware, TableProxy } from '../../local/faults.js';
import {
  type ClusterState,
  clusterState,
  differences,
  type Fingerprint,
  fingerprint,
  same,
} from './fingerprint.js';
import type { ReleaseFixture } from './release.js';
import { ATTESTED, NEW_IMAGES } from './runbook.js';
import { createTokenServiceAccount, revokeBefore, ServiceAccountTokens } from './sa-tokens.js';

export type CutStep = 'shift' | 'finalize' | 'rollback';
/** Faults the cut matrix injects into one step. */
export type CutFault = 'kill' | 'table-down' | 'token-expiry';
/** Every fault class of the matrix (the last three from test/helpers/fault-scenarios.ts). */
export type FaultClass = CutFault | 'name-reuse' | 'late-event' | 'lock-leak';

/** One fault run and what it showed. */
export interface FaultOutcome {
  readonly fault: FaultClass;
  /** The step interrupted (`shift`, ...) or, for a scenario, what received the fault. */
  readonly step: string;
  /** Which case of a scenario class (`fails persistently`); null for cuts. */
  readonly variant: string | null;
  /** Cuts: requests let through before the fault (token expiry: mutations before the refused one). */
  readonly at: number | null;
  /** The last request that got through (`kube PATCH ...`, `table UpdateItem`), or `-`. */
  readonly after: string;
  /** What the faulted attempt (or event) did: threw (and what), was killed, completed. */
  readonly interrupted: string;
  /** The cluster differed from before the fault when the faulted attempt ended. */
  readonly changedDuringFault: boolean;
  /** Write-ahead held: no change, or the change's intent/claim was in the table (cuts only). */
  readonly writeAheadHeld: boolean | null;
  /** The end state equals the uninterrupted one (or, for a refused event, the state before it), in full. */
  readonly recovered: boolean;
  /** Cuts: the rollback afterwards restored the recorded plan and freed the lock. Lock leak: the next release ended as an uninterrupted one. */
  readonly restored: boolean | null;
  /** Token expiry: how many times the credential was renewed. */
  readonly renewals?: number;
  readonly problems: readonly string[];
}

/**
 * Every Deployment, Service and Ingress of a namespace, in full (test/helpers/fingerprint.ts), as
 * one string to compare with `toBe`.
 */
export async function clusterFingerprint(namespace: string): Promise<string> {
  return JSON.stringify(await clusterState(namespace));
}

const isWrite = (what: string) =>
  what.startsWith('table ') ? !/ (GetItem|Query)$/.test(what) : !what.startsWith('kube GET ');

/** Cut points: just before and just after every write of an uninterrupted run's request log. */
export function cutPoints(log: readonly string[]): number[] {
  const points = new Set<number>();
  log.forEach((what, i) => {
    if (isWrite(what)) {
      points.add(i);
      points.add(i + 1);
    }
  });
  return [...points].filter((k) => k < log.length).sort((a, b) => a - b);
}

/** Table-outage cut points: before each of the run's table requests. */
export function tableCutPoints(log: readonly string[]): number[] {
  return log.filter((w) => w.startsWith('table ')).map((_, i) => i);
}

/** Kubernetes mutations of a request log (what a refused credential is injected before). */
export function kubeMutations(log: readonly string[]): string[] {
  return log.filter((w) => w.startsWith('kube ') && !w.startsWith('kube GET '));
}

export interface CutMatrixOptions {
  /**
   * The ports the retry runs with. @default the environment's. A test breaks the retry path with
   * it to show that the end-state comparison catches a wrong result.
   */
  readonly retryPorts?: (ports: ReleasePorts) => ReleasePorts;
}

/** The uninterrupted run of a step: its request log and the end state retries must reach. */
export interface Reference {
  readonly log: string[];
  readonly end: Fingerprint;
}

/** The matrix for one fixture (one namespace, one router). */
export class CutMatrix {
  private runs = 0;
  private readonly proxies: TableProxy[] = [];
  private initial: ClusterState | null = null;
  private tokenAccount = false;
  /** The end state of the last cut's retry (tests compare it themselves). */
  lastEnd: Fingerprint | null = null;

  constructor(
    private readonly f: ReleaseFixture,
    private readonly opts: CutMatrixOptions = {},
  ) {}

  private async planFor(id: string): Promise<ReleasePlan> {
    return parseExecutionInput({ ...ATTESTED, service: 'shop', images: NEW_IMAGES }, this.f.env.catalog, id);
  }

  /** Puts the release where `step` runs: plan recorded; canary shifted for clean up and roll back. */
  private async setup(step: CutStep, plan: ReleasePlan): Promise<void> {
    const ports = this.f.env.ports;
    await beginRelease(ports, { plan, executionArn: null });
    if (step !== 'shift') await shiftTraffic(ports, { plan, phase: 'canary', weight: 10 });
  }

  private run(step: CutStep, ports: ReleasePorts, plan: ReleasePlan): Promise<unknown> {
    switch (step) {
      case 'shift':
        return shiftTraffic(ports, { plan, phase: 'canary', weight: 10 });
      case 'finalize':
        return finalizeRelease(ports, { plan });
      case 'rollback':
        return rollBackFromStateMachine(ports, {
          plan,
          failure: { Error: 'CanaryFailed', Cause: 'cut test' },
          trigger: 'state-machine',
        });
    }
  }

  private async victim(sw: KillSwitch | null, downAfter: number | null) {
    const proxy = await TableProxy.start(this.f.env.dynamo.endpoint);
    this.proxies.push(proxy);
    if (sw) proxy.attach(sw);
    if (downAfter !== null) proxy.downAfter(downAfter);
    const client = proxy.client();
    const ports = this.f.env.portsWith({
      dynamoClient: client,
      kubeMiddleware: sw ? [killMiddleware(sw)] : [],
    });
    return { proxy, ports };
  }

  private cluster(): Promise<ClusterState> {
    return clusterState(this.f.app.namespace);
  }

  /** An uninterrupted run of `step`: its request log and the end state retries must reach. */
  async reference(step: CutStep): Promise<Reference> {
    if (!this.initial) this.initial = await this.cluster();
    const plan = await this.planFor(`ref-${step}-${++this.runs}`);
    await this.setup(step, plan);
    const sw = new KillSwitch(Number.POSITIVE_INFINITY);
    const { ports } = await this.victim(sw, null);
    await this.run(step, ports, plan);
    const end = await this.endState(plan);
    const restored = await this.cleanUp(plan);
    if (restored.length > 0)
      throw new Error(
        `the reference run of ${step} was not restored by its rollback: ${restored.join('; ')}`,
      );
    return { log: [...sw.log], end };
  }

  /** The full end state (test/helpers/fingerprint.ts), the release's id normalized. */
  private endState(plan: ReleasePlan): Promise<Fingerprint> {
    return fingerprint(this.f.app.namespace, this.f.env.store, 'shop', [plan.deploymentId]);
  }

  /**
   * Rolls the release back (whatever state it is in); what differs from the recorded plan after
   * it (the cluster as before the first run, the lock free), empty when restored.
   */
  private async cleanUp(plan: ReleasePlan): Promise<string[]> {
    await rollBackFromStateMachine(this.f.env.ports, {
      plan,
      failure: { Error: 'CutTestCleanUp', Cause: 'end of a cut run' },
      trigger: 'state-machine',
    });
    const diffs = differences(this.initial, await this.cluster());
    const lock = await this.f.env.store.active('shop');
    if (lock) diffs.push(`lock still held by ${lock.deploymentId}`);
    return diffs;
  }

  /** Every cut of `step`: kills before and after each write, the table lost before each request; with `token-expiry`, a credential refused at each mutation. */
  async all(step: CutStep, faults: readonly CutFault[] = ['kill', 'table-down']): Promise<FaultOutcome[]> {
    const ref = await this.reference(step);
    const outcomes: FaultOutcome[] = [];
    if (faults.includes('kill'))
      for (const k of cutPoints(ref.log)) outcomes.push(await this.cut(step, 'kill', k, ref.end));
    if (faults.includes('table-down'))
      for (const k of tableCutPoints(ref.log)) outcomes.push(await this.cut(step, 'table-down', k, ref.end));
    if (faults.includes('token-expiry'))
      for (let k = 0; k < kubeMutations(ref.log).length; k++)
        outcomes.push(await this.tokenCut(step, k, ref.end));
    return outcomes;
  }

  /** One cut: `fault` after `at` requests of `step`. */
  async cut(
    step: CutStep,
    fault: 'kill' | 'table-down',
    at: number,
    expectedEnd: Fingerprint,
  ): Promise<FaultOutcome> {
    const problems: string[] = [];
    const plan = await this.planFor(`cut-${step}-${fault}-${at}-${++this.runs}`);
    await this.setup(step, plan);
    const before = await this.cluster();
    const intents = async () =>
      (await this.f.env.store.get('shop', plan.deploymentId))?.events.filter((e) =>
        e.message.startsWith('intent: '),
      ).length ?? 0;
    const intentsBefore = await intents();

    // The interrupted attempt.
    const sw = new KillSwitch(fault === 'kill' ? at : Number.POSITIVE_INFINITY);
    const v = await this.victim(sw, fault === 'table-down' ? at : null);
    const attempt = this.run(step, v.ports, plan);
    attempt.catch(() => undefined);
    const interrupted = await Promise.race([
      attempt.then(
        () => 'completed',
        (e: unknown) => `threw ${(e as Error).name}: ${(e as Error).message}`.slice(0, 240),
      ),
      sw.killed.then(() => 'killed'),
    ]);
    v.proxy.up();
    if (fault === 'table-down' && interrupted === 'completed')
      problems.push('the table went down but the step completed');
    if (
      fault === 'table-down' &&
      interrupted.startsWith('threw') &&
      !interrupted.includes('StoreUnavailableError')
    )
      problems.push(`the table went down and the step threw something else: ${interrupted}`);

    // Write-ahead: a change the table does not know of is the one thing that must never happen.
    const changedDuringFault = !same(await this.cluster(), before);
    let writeAheadHeld = true;
    if (changedDuringFault) {
      const known =
        step === 'rollback'
          ? (await this.f.env.store.rollbackClaim('shop', plan.deploymentId)) !== null
          : (await intents()) > intentsBefore;
      if (!known) {
        writeAheadHeld = false;
        problems.push('the cluster changed but the table has no intent or claim for it');
      }
    }

    // The retry (Step Functions runs the task again), through the normal path.
    const retryPorts = this.opts.retryPorts ? this.opts.retryPorts(this.f.env.ports) : this.f.env.ports;
    const recovered = await this.retried(step, retryPorts, plan, expectedEnd, problems);
    const restored = await this.restoredAfter(plan, problems);
    return {
      fault,
      step,
      variant: null,
      at,
      after:
        at > 0
          ? ((fault === 'kill' ? sw.log : sw.log.filter((w) => w.startsWith('table ')))[at - 1] ?? '-')
          : '-',
      interrupted,
      changedDuringFault,
      writeAheadHeld,
      recovered,
      restored,
      problems,
    };
  }

  /**
   * One token-expiry run: the credential `step` runs with (a bound ServiceAccount token of the
   * restricted Role) is revoked just before the step's mutation number `k` (0-based) is sent, so
   * the API server answers it 401. The client must renew once, send it again, and the step must
   * complete in the same attempt with the uninterrupted end state.
   */
  async tokenCut(step: CutStep, k: number, expectedEnd: Fingerprint): Promise<FaultOutcome> {
    const problems: string[] = [];
    if (!this.tokenAccount) {
      await createTokenServiceAccount(this.f.app.namespace);
      this.tokenAccount = true;
    }
    const plan = await this.planFor(`tok-${step}-${k}-${++this.runs}`);
    await this.setup(step, plan);
    const before = await this.cluster();
    const tokens = new ServiceAccountTokens(this.f.app.namespace);
    let mutations = 0;
    const revoke = revokeBefore(tokens, (method) => method !== 'GET' && mutations++ === k);
    const ports = this.f.env.portsWith({ kubeAccess: await tokens.access(), kubeMiddleware: [revoke] });
    let interrupted: string;
    try {
      await this.run(step, ports, plan);
      interrupted = revoke.fired
        ? `${revoke.fired} refused (401); completed after ${tokens.renewals.length} renewal(s)`
        : `completed; mutation ${k + 1} never sent (${mutations} mutations), no token refused`;
    } catch (e) {
      interrupted = `threw ${(e as Error).name}: ${(e as Error).message}`.slice(0, 240);
      problems.push(`the step failed although its credential was renewed: ${interrupted}`);
    }
    if (revoke.fired && tokens.renewals.length !== 1)
      problems.push(`${tokens.renewals.length} renewals of the credential, not one`);
    const changedDuringFault = !same(await this.cluster(), before);
    const end = await this.endState(plan);
    this.lastEnd = end;
    const recovered = same(end, expectedEnd);
    if (!recovered)
      problems.push(
        `end state differs from the uninterrupted run: ${differences(expectedEnd, end).join('; ')}`,
      );
    const restored = await this.restoredAfter(plan, problems);
    return {
      fault: 'token-expiry',
      step,
      variant: null,
      at: k,
      after: '-',
      interrupted,
      changedDuringFault,
      writeAheadHeld: null,
      recovered,
      restored,
      renewals: tokens.renewals.length,
      problems,
    };
  }

  /** Runs the step again and compares its end state with the uninterrupted one. */
  private async retried(
    step: CutStep,
    ports: ReleasePorts,
    plan: ReleasePlan,
    expectedEnd: Fingerprint,
    problems: string[],
  ): Promise<boolean> {
    try {
      await this.run(step, ports, plan);
    } catch (e) {
      problems.push(`the retry failed: ${(e as Error).name}: ${(e as Error).message}`);
      return false;
    }
    const end = await this.endState(plan);
    this.lastEnd = end;
    if (same(end, expectedEnd)) return true;
    problems.push(
      `after the retry, differs from the uninterrupted run: ${differences(expectedEnd, end).join('; ')}`,
    );
    return false;
  }

  private async restoredAfter(plan: ReleasePlan, problems: string[]): Promise<boolean> {
    const diffs = await this.cleanUp(plan);
    if (diffs.length > 0)
      problems.push(`the rollback afterwards did not restore the recorded plan: ${diffs.join('; ')}`);
    return diffs.length === 0;
  }

  async close(): Promise<void> {
    for (const p of this.proxies.splice(0)) await p.stop();
  }
}
