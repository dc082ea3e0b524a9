/**
 * The fault classes of issue #13 that are not a cut of one step, each run checked against the
 * full fingerprint (test/helpers/fingerprint.ts) and recorded like the cuts (FaultOutcome):
 *
 * - name reuse: a second execution with the name of an ended release is refused at Check Gates
 *   (DeploymentIdInUse) and changes nothing: cluster, lock and the old record as they were; the
 *   reused name's status-change cleanup (its record made to say RUNNING, the worst case) is
 *   ignored and changes nothing;
 * - late events: while R3 waits in its canary window, the alarm of the release before it (R2) is
 *   redelivered, and R2's execution-status cleanup arrives (R2's record made to say RUNNING):
 *   R3's fingerprint (cluster, lock, record) is unchanged;
 * - lock leak: Complete Release's lock release fails once (the state machine's retry finishes:
 *   SUCCEEDED, lock free) or every time (the execution fails with the record SUCCEEDED; the
 *   execution-status cleanup, redelivered as Lambda retries it, frees the lock): the end state
 *   equals an uninterrupted release's, and the next release runs and ends as an uninterrupted one.
 *
 * The uninterrupted releases (R1: v1 -> v2, R2: v2 -> v3) run first in a reference namespace,
 * which then hosts the name-reuse and late-event runs; each lock-leak case has a namespace of its
 * own, so its releases start from the same state as the reference's.
 */
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { ERROR_NAMES, StoreUnavailableError } from '../../functions/domain/errors.js';
import type { DeploymentStore } from '../../functions/ports/store.js';
import type { AlarmOutcome } from '../../functions/release/alarm.js';
import { STEPS } from '../../functions/release/registry.js';
import { handleExecutionStopped } from '../../functions/release/stopped.js';
import { alarmEvent } from '../../local/alarm-event.js';
import type { FaultOutcome } from './fault-matrix.js';
import { differences, type Fingerprint, fingerprint, same } from './fingerprint.js';
import { deleteNamespace } from './k8s.js';
import { type ReleaseFixture, type RouterKind, releaseFixture } from './release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES } from './runbook.js';

const SERVICE: Partial<ServiceConfigInput> = { approval: false, onCall: ALWAYS_ON_CALL };
const V3 = { api: 'registry.local/shop/api:v3', sidecar: 'registry.local/shop/proxy:1.2' };
const V4 = { api: 'registry.local/shop/api:v4', sidecar: 'registry.local/shop/proxy:1.3' };
/** Virtual seconds per real second of a release that runs through (as the safety tests run them). */
const SPEED = 100_000;
const STATE_MACHINE_ARN = 'arn:aws:states:local:000000000000:stateMachine:tps-test-shop';
const NINETY_DAYS_MS = 90 * 86_400_000;

type Run = Awaited<ReturnType<ReleaseFixture['env']['run']>>;

/**
 * Makes the store's `release` (freeing the lock) fail `times` times once the release's record
 * says SUCCEEDED, as a throttled or unreachable table would fail Complete Release's DeleteItem.
 */
export function failLockReleaseAfterSuccess(store: DeploymentStore, times: number) {
  const original = store.release.bind(store);
  let failures = 0;
  store.release = async (service, deploymentId) => {
    const record = await store.get(service, deploymentId);
    if (record?.outcome === 'SUCCEEDED' && failures < times) {
      failures++;
      throw new StoreUnavailableError('DeleteItem(lock): throttled (injected)');
    }
    return original(service, deploymentId);
  };
  return {
    get failures() {
      return failures;
    },
    restore: () => {
      store.release = original;
    },
  };
}

/** Which scenario runs to make. */
export interface ScenarioSelection {
  readonly nameReuse?: boolean;
  readonly lateEvents?: boolean;
  readonly lockLeak?: readonly ('once' | 'persistent')[];
}

let names = 0;
const executionName = (tag: string) => `${tag}-${Date.now().toString(36)}-${++names}`;

/** The scenario classes for one router. */
export class ScenarioMatrix {
  private readonly fixtures: ReleaseFixture[] = [];

  constructor(
    private readonly router: RouterKind,
    private readonly prefix = 'sc',
  ) {}

  /** The selected runs, in order: reference releases, name reuse, late events, lock leak. */
  async all(select: ScenarioSelection): Promise<FaultOutcome[]> {
    const out: FaultOutcome[] = [];
    const ref = await this.fixture('ref');
    const r1 = executionName('r1');
    await this.releaseOrThrow(ref, r1, NEW_IMAGES);
    const ref1 = await this.fingerprintOf(ref, r1);
    if (select.nameReuse) out.push(await this.reusedExecution(ref, r1));
    const r2 = executionName('r2');
    const second = await this.releaseOrThrow(ref, r2, V3);
    const ref2 = await this.fingerprintOf(ref, r2);
    if (select.nameReuse) out.push(await this.reusedNameCleanup(ref, r2, second));
    if (select.lateEvents) out.push(...(await this.lateEvents(ref, r2, second)));
    for (const how of select.lockLeak ?? []) out.push(await this.lockLeak(how, ref1, ref2));
    return out;
  }

  async close(): Promise<void> {
    for (const f of this.fixtures.splice(0)) {
      await f.env.stop();
      await deleteNamespace(f.app.namespace);
    }
  }

  private async fixture(what: string): Promise<ReleaseFixture> {
    const f = await releaseFixture(`${this.prefix}-${what}`.slice(0, 16), this.router, { service: SERVICE });
    this.fixtures.push(f);
    return f;
  }

  private fingerprintOf(f: ReleaseFixture, ...releases: string[]): Promise<Fingerprint> {
    return fingerprint(f.app.namespace, f.env.store, 'shop', releases);
  }

  private release(f: ReleaseFixture, name: string, images: Record<string, string>): Promise<Run> {
    return f.env.run({ ...ATTESTED, service: 'shop', images }, { executionName: name, speed: SPEED });
  }

  private async releaseOrThrow(f: ReleaseFixture, name: string, images: Record<string, string>) {
    const run = await this.release(f, name, images);
    if (run.status !== 'SUCCEEDED')
      throw new Error(`uninterrupted release ${name} ended ${run.status}: ${run.error} ${run.cause}`);
    return run;
  }

  /** A second execution named like R1, which ended: refused before any change. */
  private async reusedExecution(f: ReleaseFixture, name: string): Promise<FaultOutcome> {
    const problems: string[] = [];
    const before = await this.fingerprintOf(f, name);
    const recordBefore = await f.env.store.get('shop', name);
    const run = await f.env.run(
      { ...ATTESTED, service: 'shop', images: V3, requestedBy: 'second' },
      { executionName: name, speed: SPEED },
    );
    if (run.status !== 'FAILED' || run.error !== ERROR_NAMES.deploymentIdInUse)
      problems.push(
        `the reused name ran: ${run.status} ${run.error ?? ''}, expected FAILED ${ERROR_NAMES.deploymentIdInUse}`,
      );
    if (run.states.join(' -> ') !== 'Validate Input -> Check Gates')
      problems.push(`states entered: ${run.states.join(' -> ')}`);
    const after = await this.fingerprintOf(f, name);
    const changed = !same(before, after);
    if (changed) problems.push(`changed: ${differences(before, after).join('; ')}`);
    const recordAfter = await f.env.store.get('shop', name);
    if (!same(recordBefore, recordAfter)) problems.push('the old release record changed');
    if (f.env.undelivered.length > 0) problems.push(`undelivered status events: ${f.env.undelivered.length}`);
    return scenario('name-reuse', 'Check Gates', 'a second execution with the name of an ended release', {
      interrupted: `${run.status} ${run.error ?? ''} after ${run.states.join(' -> ')}`,
      changedDuringFault: changed,
      recovered: !changed && problems.length === 0,
      problems,
    });
  }

  /** The status-change event of a later execution that reused R2's name; R2's record says RUNNING. */
  private async reusedNameCleanup(f: ReleaseFixture, name: string, run: Run): Promise<FaultOutcome> {
    const problems: string[] = [];
    const original = (await f.env.store.get('shop', name))!;
    await f.env.store.put({ ...original, outcome: 'RUNNING' });
    try {
      const before = await this.fingerprintOf(f, name);
      const outcome = await handleExecutionStopped(f.env.ports, {
        'detail-type': 'Step Functions Execution Status Change',
        source: 'aws.states',
        detail: {
          executionArn: run.executionArn,
          stateMachineArn: STATE_MACHINE_ARN,
          name,
          status: 'FAILED',
          startDate: Date.parse(run.executionStartTime!) + NINETY_DAYS_MS,
        },
      });
      if (outcome.action !== 'ignored') problems.push(`the cleanup did ${outcome.action}: ${outcome.detail}`);
      const after = await this.fingerprintOf(f, name);
      const changed = !same(before, after);
      if (changed) problems.push(`changed: ${differences(before, after).join('; ')}`);
      return scenario('name-reuse', 'execution-status cleanup', "the reused name's status-change event", {
        interrupted: `${outcome.action}: ${outcome.detail}`.slice(0, 240),
        changedDuringFault: changed,
        recovered: !changed && problems.length === 0,
        problems,
      });
    } finally {
      const now = (await f.env.store.get('shop', name))!;
      await f.env.store.put({ ...now, outcome: original.outcome });
    }
  }

  /** R2's alarm redelivered and R2's status-change cleanup, while R3 waits in its canary window. */
  private async lateEvents(f: ReleaseFixture, r2: string, second: Run): Promise<FaultOutcome[]> {
    const r3 = executionName('r3');
    const entered: string[] = [];
    const run = f.env.run(
      { ...ATTESTED, service: 'shop', images: V4 },
      { executionName: r3, speed: 1, onState: (n) => entered.push(n) },
    );
    let settled = false;
    void run.finally(() => {
      settled = true;
    });
    const out: FaultOutcome[] = [];
    try {
      for (let i = 0; !entered.includes('Canary Validation Window'); i++) {
        if (settled || i > 7200)
          throw new Error(`R3 never reached its canary window: ${entered.join(' -> ')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      // The alarm fired during R2 (a minute after it started); EventBridge delivers it again now.
      {
        const problems: string[] = [];
        const before = await this.fingerprintOf(f, r3);
        const during = new Date(Date.parse(second.record!.startedAt) + 60_000);
        const outcome = (await STEPS.alarmRollback(
          f.env.ports,
          JSON.parse(JSON.stringify(alarmEvent('tps-test', 'shop', 'errorRate', during))),
        )) as AlarmOutcome;
        if (outcome.action !== 'notified' || outcome.deploymentId !== r3)
          problems.push(`the late alarm did ${outcome.action} on ${outcome.deploymentId}: ${outcome.detail}`);
        const after = await this.fingerprintOf(f, r3);
        const changed = !same(before, after);
        if (changed) problems.push(`R3 changed: ${differences(before, after).join('; ')}`);
        if ((await f.env.store.get('shop', r2))?.outcome !== 'SUCCEEDED')
          problems.push("R2's outcome changed");
        out.push(
          scenario('late-event', 'alarm rollback', "the previous release's alarm redelivered mid-canary", {
            interrupted: `${outcome.action}: ${outcome.detail}`.slice(0, 240),
            changedDuringFault: changed,
            recovered: !changed && problems.length === 0,
            problems,
          }),
        );
      }
      // R2's execution-status cleanup, late, with R2's record saying RUNNING (as if its end was never
      // written): acting on it would restore R2's plan, the version before R2, under R3.
      {
        const problems: string[] = [];
        const rec = (await f.env.store.get('shop', r2))!;
        await f.env.store.put({ ...rec, outcome: 'RUNNING', endedAt: null });
        const before = await this.fingerprintOf(f, r3);
        const outcome = await handleExecutionStopped(f.env.ports, {
          'detail-type': 'Step Functions Execution Status Change',
          source: 'aws.states',
          detail: {
            executionArn: second.executionArn,
            stateMachineArn: STATE_MACHINE_ARN,
            name: r2,
            status: 'ABORTED',
            startDate: Date.parse(second.executionStartTime!),
          },
        });
        if (outcome.action !== 'nothing-to-do')
          problems.push(`the late cleanup did ${outcome.action}: ${outcome.detail}`);
        const after = await this.fingerprintOf(f, r3);
        const changed = !same(before, after);
        if (changed) problems.push(`R3 changed: ${differences(before, after).join('; ')}`);
        out.push(
          scenario(
            'late-event',
            'execution-status cleanup',
            "the previous release's status-change cleanup mid-canary",
            {
              interrupted: `${outcome.action}: ${outcome.detail}`.slice(0, 240),
              changedDuringFault: changed,
              recovered: !changed && problems.length === 0,
              problems,
            },
          ),
        );
      }
    } finally {
      for (const ex of f.env.executors.values()) ex.stop(f.env.executionArn('shop', r3));
      await run;
    }
    return out;
  }

  /** Complete Release's lock release failing once or every time; then the next release. */
  private async lockLeak(
    how: 'once' | 'persistent',
    ref1: Fingerprint,
    ref2: Fingerprint,
  ): Promise<FaultOutcome> {
    const problems: string[] = [];
    const f = await this.fixture(`leak-${how}`);
    const fault = failLockReleaseAfterSuccess(f.env.store, how === 'once' ? 1 : Number.POSITIVE_INFINITY);
    const r1 = executionName('l1');
    let interrupted: string;
    try {
      const run = await this.release(f, r1, NEW_IMAGES);
      interrupted = `lock release refused ${fault.failures}x; execution ${run.status}, record ${run.record?.outcome}`;
      if (how === 'once') {
        if (run.status !== 'SUCCEEDED' || fault.failures !== 1)
          problems.push(`expected SUCCEEDED after one refusal: ${interrupted}`);
      } else {
        if (run.status !== 'FAILED' || run.record?.outcome !== 'SUCCEEDED')
          problems.push(`expected the execution FAILED with the record SUCCEEDED: ${interrupted}`);
        const held = await f.env.store.active('shop');
        interrupted += `; lock ${held ? `held by ${held.deploymentId === r1 ? 'it' : held.deploymentId}` : 'free'}`;
        // Lambda retries the cleanup's failed delivery; by then the table answers.
        fault.restore();
        const cleanups = await f.env.redeliver();
        interrupted += `; cleanup redelivered: ${cleanups.map((c) => `${c.action} (${c.detail})`).join(', ') || 'none pending'}`;
        if (f.env.undelivered.length > 0) problems.push('the redelivered cleanup failed again');
      }
    } finally {
      fault.restore();
    }
    const end = await this.fingerprintOf(f, r1);
    const recovered = same(end, ref1);
    if (!recovered)
      problems.push(`differs from the uninterrupted release: ${differences(ref1, end).join('; ')}`);
    const r2 = executionName('l2');
    const next = await this.release(f, r2, V3);
    const nextEnd = await this.fingerprintOf(f, r2);
    const restored = next.status === 'SUCCEEDED' && same(nextEnd, ref2);
    if (next.status !== 'SUCCEEDED')
      problems.push(`the next release ended ${next.status}: ${next.error} ${next.cause}`);
    else if (!restored)
      problems.push(
        `the next release differs from the uninterrupted one: ${differences(ref2, nextEnd).join('; ')}`,
      );
    return scenario(
      'lock-leak',
      'Complete Release',
      how === 'once' ? 'lock release fails once' : 'lock release fails persistently',
      {
        interrupted: interrupted.slice(0, 400),
        changedDuringFault: false,
        recovered,
        restored,
        problems,
      },
    );
  }
}

function scenario(
  fault: 'name-reuse' | 'late-event' | 'lock-leak',
  step: string,
  variant: string,
  r: Pick<FaultOutcome, 'interrupted' | 'changedDuringFault' | 'recovered' | 'problems'> & {
    restored?: boolean;
  },
): FaultOutcome {
  return {
    fault,
    step,
    variant,
    at: null,
    after: '-',
    interrupted: r.interrupted,
    changedDuringFault: r.changedDuringFault,
    writeAheadHeld: null,
    recovered: r.recovered,
    restored: r.restored ?? null,
    problems: r.problems,
  };
}
