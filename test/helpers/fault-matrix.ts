/**
 * The cut-point fault matrix: a release step (shift, clean up, roll back) is interrupted at every
 * point where it is about to write (a Kubernetes mutation or a table write) or has just written,
 * either by killing it (its later requests never leave) or by taking the deployments table away
 * from then on. Each cut is one run with its own outcome:
 *
 * - write-ahead: if the cluster changed during the interrupted attempt, the record already holds
 *   the step's intent (or, for a rollback, its claim): no change the table does not know of;
 * - recovery: running the step again (the state machine's retry) reaches the same end state as an
 *   uninterrupted run, and the record counts the work once;
 * - afterwards a rollback restores the recorded plan exactly.
 *
 * Used by test/integration/faults-cuts.test.ts and bench/faults.ts.
 */
import { CANARY_SUFFIX } from '../../functions/adapters/kubernetes/labels.js';
import { parseExecutionInput, type ReleasePlan } from '../../functions/domain/input.js';
import type { ReleasePorts } from '../../functions/ports/release.js';
import { beginRelease } from '../../functions/release/begin.js';
import { finalizeRelease } from '../../functions/release/finish.js';
import { rollBackFromStateMachine } from '../../functions/release/rollback.js';
import { shiftTraffic } from '../../functions/release/shift.js';
import { KillSwitch, killMiddleware, TableProxy } from '../../local/faults.js';
import { adminApis } from './k8s.js';
import type { ReleaseFixture } from './release.js';
import { ATTESTED, NEW_IMAGES } from './runbook.js';

export type CutStep = 'shift' | 'finalize' | 'rollback';
export type CutFault = 'kill' | 'table-down';

export interface CutOutcome {
  readonly step: CutStep;
  readonly fault: CutFault;
  /** Requests let through before the fault. */
  readonly at: number;
  /** The last request that got through (`kube PATCH ...`, `table UpdateItem`), or `-`. */
  readonly after: string;
  /** What the interrupted attempt did: threw (and what), or was killed. */
  readonly interrupted: string;
  /** The cluster differed from before the attempt when it was interrupted. */
  readonly changedDuringFault: boolean;
  /** Write-ahead held: no change, or the change's intent/claim was in the table. */
  readonly writeAheadHeld: boolean;
  /** The retry reached the uninterrupted end state and the record counts the work once. */
  readonly recovered: boolean;
  /** The rollback afterwards restored the recorded plan exactly. */
  readonly restored: boolean;
  readonly problems: readonly string[];
}

/** Deployments (replicas, template), Services (selector) and Ingresses (annotations) of a namespace. */
export async function clusterFingerprint(namespace: string): Promise<string> {
  const { apps, core, networking } = adminApis();
  const [ds, ss, is] = await Promise.all([
    apps.listNamespacedDeployment({ namespace }),
    core.listNamespacedService({ namespace }),
    networking.listNamespacedIngress({ namespace }),
  ]);
  return JSON.stringify({
    deployments: ds.items
      .map((d) => ({ name: d.metadata?.name, replicas: d.spec?.replicas, template: d.spec?.template }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name))),
    services: ss.items
      .map((s) => ({ name: s.metadata?.name, selector: s.spec?.selector }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name))),
    ingresses: is.items
      .map((i) => ({ name: i.metadata?.name, annotations: i.metadata?.annotations }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name))),
  });
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

/** The matrix for one fixture (one namespace, one router). */
export class CutMatrix {
  private runs = 0;
  private readonly proxies: TableProxy[] = [];
  private initial = '';

  constructor(private readonly f: ReleaseFixture) {}

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

  /** An uninterrupted run of `step`: its request log and the end state retries must reach. */
  async reference(step: CutStep): Promise<{ log: string[]; end: string }> {
    if (!this.initial) this.initial = await clusterFingerprint(this.f.app.namespace);
    const plan = await this.planFor(`ref-${step}-${++this.runs}`);
    await this.setup(step, plan);
    const sw = new KillSwitch(Number.POSITIVE_INFINITY);
    const { ports } = await this.victim(sw, null);
    await this.run(step, ports, plan);
    const end = await this.endState(step, plan);
    await this.cleanUp(plan);
    return { log: [...sw.log], end };
  }

  /** What "done" means for each step, independent of pod timing. */
  private async endState(step: CutStep, plan: ReleasePlan): Promise<string> {
    const ns = this.f.app.namespace;
    const { apps } = adminApis();
    const names = (await apps.listNamespacedDeployment({ namespace: ns })).items.map((d) => d.metadata?.name);
    const canary = names.includes(`${this.f.app.name}${CANARY_SUFFIX}`);
    const rec = await this.f.env.store.get('shop', plan.deploymentId);
    const live = await apps.readNamespacedDeployment({ namespace: ns, name: this.f.app.name });
    const liveImages = (live.spec?.template.spec?.containers ?? []).map((c) => c.image).sort();
    const rollbacks = rec?.events.filter((e) => e.message.startsWith('rolled back by')).length ?? 0;
    const lock = await this.f.env.store.active('shop');
    switch (step) {
      case 'shift':
        return JSON.stringify({
          canary,
          phases: rec?.phases.filter((p) => p.name === 'canary').length,
          live: liveImages,
        });
      case 'finalize':
        return JSON.stringify({ canary, finalImage: rec?.finalImage, live: liveImages });
      case 'rollback':
        return JSON.stringify({
          cluster: await clusterFingerprint(ns),
          outcome: rec?.outcome,
          rollbacks,
          locked: lock?.deploymentId === plan.deploymentId,
        });
    }
  }

  /** Rolls the release back (whatever state it is in) and checks the recorded plan is restored. */
  private async cleanUp(plan: ReleasePlan): Promise<boolean> {
    await rollBackFromStateMachine(this.f.env.ports, {
      plan,
      failure: { Error: 'CutTestCleanUp', Cause: 'end of a cut run' },
      trigger: 'state-machine',
    });
    return (await clusterFingerprint(this.f.app.namespace)) === this.initial;
  }

  /** Every cut of `step`: kills before and after each write, the table lost before each request. */
  async all(step: CutStep): Promise<CutOutcome[]> {
    const ref = await this.reference(step);
    const outcomes: CutOutcome[] = [];
    for (const k of cutPoints(ref.log)) outcomes.push(await this.cut(step, 'kill', k, ref.end));
    for (const k of tableCutPoints(ref.log)) outcomes.push(await this.cut(step, 'table-down', k, ref.end));
    return outcomes;
  }

  /** One cut: `fault` after `at` requests of `step`. */
  async cut(step: CutStep, fault: CutFault, at: number, expectedEnd: string): Promise<CutOutcome> {
    const problems: string[] = [];
    const ns = this.f.app.namespace;
    const plan = await this.planFor(`cut-${step}-${fault}-${at}-${++this.runs}`);
    await this.setup(step, plan);
    const before = await clusterFingerprint(ns);
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
    const changedDuringFault = (await clusterFingerprint(ns)) !== before;
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
    let recovered = false;
    try {
      await this.run(step, this.f.env.ports, plan);
      const end = await this.endState(step, plan);
      recovered = end === expectedEnd;
      if (!recovered) problems.push(`after the retry: ${end}; uninterrupted: ${expectedEnd}`);
    } catch (e) {
      problems.push(`the retry failed: ${(e as Error).name}: ${(e as Error).message}`);
    }
    const restored = await this.cleanUp(plan);
    if (!restored) problems.push('the rollback afterwards did not restore the recorded plan');
    return {
      step,
      fault,
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

  async close(): Promise<void> {
    for (const p of this.proxies.splice(0)) await p.stop();
  }
}
