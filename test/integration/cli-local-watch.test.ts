/**
 * `watch`, `list`, `status --watch` and `start --follow` against the local environment, through
 * `--local`: the CLI's own code and SDK clients, pointed by the state file at the environment's
 * Step Functions API (local/sfn-api.ts, serving the executor's recorded history) and its DynamoDB.
 * Releases held at a person's answer (approval, a hold) so the CLI attaches while they run; then a
 * success and a rollback, with `watch` ending as `start --follow` does; and `tps-deploy local`
 * followed from a second CLI.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { run } from '../../cli/main.js';
import { parseProfile } from '../../functions/adapters/synthetic/profile.js';
import { answerPending } from '../../functions/release/approval.js';
import { requestHold } from '../../functions/release/hold.js';
import { LOCAL_CREDENTIALS, type LocalApiState, writeLocalState } from '../../local/api-state.js';
import { clusterEnv, deleteNamespace, eventually } from '../helpers/cluster-env.js';
import type { ReleaseFixture } from '../helpers/release.js';
import { closeFixtures, recordWhen, runbookFixture } from '../helpers/runbook.js';
import { Collect } from '../unit/cli-harness.js';

jest.setTimeout(240_000);

const dir = mkdtempSync(join(tmpdir(), 'tps-cli-local-watch-'));
const STATE = join(dir, 'state.json');
const IMAGES = 'api=registry.local/shop/api:v2,sidecar=registry.local/shop/proxy:1.1';
const ATTEST = ['--tests-passed', '--reviewers', 'alice,bob'];
/** Poll fast: the releases run at the local environment's speed. */
const POLL = ['--poll-interval', '0.2'];

let f: ReleaseFixture;
let state: LocalApiState;

beforeAll(async () => {
  // approval: every release waits for a person first, so the CLI attaches while it runs.
  f = await runbookFixture('cli-lw', { approval: true });
  state = await f.env.serve({ runOptions: { tokenTimeoutMs: 200_000 } });
  writeLocalState(STATE, state);
});

/** The whole history of an execution, oldest first, as GetExecutionHistory pages it. */
async function historyOf(executionArn: string): Promise<HistoryEvent[]> {
  const sfn = new SFNClient({
    region: state.region,
    endpoint: state.endpoints.stepFunctions,
    credentials: { ...LOCAL_CREDENTIALS },
  });
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  sfn.destroy();
  return events;
}

afterAll(closeFixtures);

/** `tps-deploy <argv>` in-process with real sleeps; its output readable while it runs. */
/** `--local start --follow` of the shop service's images under the name `id`. */
function startFollow(id: string, ...extra: string[]): string[] {
  return [
    '--local',
    'start',
    '--service',
    'shop',
    '--images',
    IMAGES,
    ...ATTEST,
    '--name',
    id,
    '--follow',
    ...extra,
    ...POLL,
  ];
}

function cli(argv: string[], statePath = STATE, opts: { tty?: boolean } = {}) {
  const stdout = new Collect(opts.tty ?? false);
  const stderr = new Collect();
  const done = run(argv, {
    stdout,
    stderr,
    env: { USER: 'tester', TPS_LOCAL_STATE: statePath },
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  }).then((code) => ({ code, stdout: stdout.text, stderr: stderr.text }));
  return { stdout, stderr, done };
}

/** Waits until a running CLI has printed `text`. */
function printed(out: Collect, text: string) {
  return eventually(`the CLI to print "${text}"`, async () => out.text.includes(text), {
    timeoutMs: 60_000,
    intervalMs: 50,
  });
}

/** The progress lines of a follower, without the timestamps' brackets: what start --follow and watch both print. */
const progress = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('--local: a release held for a person, then released', () => {
  test('list shows it RUNNING at its phase; watch and status --watch follow it; watch ends as start --follow', async () => {
    const id = 'lw-ok';
    const started = cli(startFollow(id));
    await recordWhen(f, id, 'the approval request', (r) => !!r.pendingApproval && !r.pendingApproval.phase);
    // A hold asked for now stops the release after its canary window passes.
    await requestHold(f.env.ports, {
      service: 'shop',
      deploymentId: id,
      by: 'erin',
      reason: 'look at the logs',
    });
    await answerPending(f.env.ports, { service: 'shop', deploymentId: id, yes: true, by: 'lead' });
    const held = await recordWhen(f, id, 'the hold at canary', (r) => r.pendingApproval?.phase === 'canary');
    expect(held.phases.map((p) => [p.name, p.verdict])).toEqual([['canary', 'pass']]);

    const list = await cli(['--local', 'list']).done;
    expect(list.code).toBe(0);
    const row = list.stdout.split('\n').find((l) => l.includes(id));
    expect(row).toMatch(
      /^shop\s+lw-ok\s+v2\s+canary 10%\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+tester\s+hold at canary: tps-deploy promote lw-ok$/,
    );
    const listed = JSON.parse((await cli(['--local', 'list', '--json']).done).stdout);
    expect(listed).toEqual([
      expect.objectContaining({
        service: 'shop',
        deploymentId: id,
        executionArn: f.env.executionArn('shop', id),
        version: 'v2',
        phase: 'canary',
        weight: 10,
        stage: 'releasing',
        requestedBy: 'tester',
        outcome: 'RUNNING',
        waiting: `hold at canary: tps-deploy promote ${id}`,
      }),
    ]);

    // On a terminal: a countdown against the wall clock would be wrong for the virtual clock's times.
    const watching = cli(['--local', 'watch', id, ...POLL], STATE, { tty: true });
    const status = cli(['--local', 'status', id, '--watch', '--interval', '0.2']);
    // Both attached while it is held: the hold's wait for a person is on screen, the status says RUNNING.
    await printed(watching.stdout, `waiting for a person: tps-deploy approve ${id}`);
    await printed(status.stdout, `execution RUNNING: ${f.env.executionArn('shop', id)}`);
    await answerPending(f.env.ports, { service: 'shop', deploymentId: id, yes: true, by: 'erin' });

    const [s, w, st] = await Promise.all([started.done, watching.done, status.done]);
    expect([s.code, w.code, st.code]).toEqual([0, 0, 0]);
    // The same lines, from the same history, whenever each attached.
    expect(progress(w.stdout)).toEqual(progress(s.stdout));
    expect(w.stdout).not.toContain('\r');
    expect(w.stdout).toContain('▸ Shift 10% To Canary');
    expect(w.stdout).toMatch(/traffic 10%: /);
    expect(w.stdout).toMatch(/⏸ Canary Validation Window: waiting 10 min/);
    expect(w.stdout).toMatch(/verdict pass: /);
    expect(w.stdout).toContain('▸ Shift 50% To Staging');
    expect(w.stdout).toContain('✓ Released');
    expect(w.stdout).toMatch(/execution SUCCEEDED\noutcome SUCCEEDED\n$/);
    expect(w.stderr).toContain(`watching shop ${id} (registry.local/shop/api:v2, started `);
    expect(w.stderr).toContain(`  execution ${f.env.executionArn('shop', id)}`);
    // A local execution has no console links.
    expect(w.stderr).not.toContain('console:');
    // status --watch: printed again until the end, then the outcome.
    const prints = st.stdout.split(/^--- .*$/m);
    expect(prints.length).toBeGreaterThanOrEqual(2);
    expect(prints[0]).toContain(`shop ${id}: RUNNING`);
    // It ends with the record's outcome; the execution may still be in its post-deployment watch.
    expect(prints.at(-1)).toContain(`shop ${id}: SUCCEEDED`);
    expect(prints.at(-1)).toMatch(
      /\n {2}execution (RUNNING|SUCCEEDED): arn:aws:states:local:000000000000:execution:tps-test-shop:lw-ok\n/,
    );
    expect(prints.at(-1)).not.toContain('on hold');

    // The executor's history: one chain, and every function call inside the Task state that made it.
    const events = await historyOf(f.env.executionArn('shop', id));
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.previousEventId)).toEqual(events.map((_, i) => i));
    expect(events.at(-1)!.type).toBe('ExecutionSucceeded');
    let inTask: string | null = null;
    const misplaced: string[] = [];
    for (const e of events) {
      if (e.type === 'TaskStateEntered') inTask = e.stateEnteredEventDetails!.name!;
      else if (e.type === 'TaskStateExited') inTask = null;
      else if (/^(LambdaFunction|Task)[A-Z]/.test(e.type!) && inTask === null)
        misplaced.push(`${e.id} ${e.type}`);
      else if (e.type!.endsWith('StateEntered')) inTask = null;
    }
    expect(misplaced).toEqual([]);
    expect(events.filter((e) => e.type === 'TaskSubmitted')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'LambdaFunctionSucceeded').length).toBeGreaterThan(10);

    // Ended: list has nothing; watch --json says so at once with the same exit code.
    expect((await cli(['--local', 'list']).done).stdout).toBe('no release running (looked in shop)\n');
    const again = await cli(['--local', 'watch', id, '--json']).done;
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      deploymentId: id,
      outcome: 'SUCCEEDED',
      exitCode: 0,
      links: null,
    });
    const history = await cli(['--local', 'history', '--service', 'shop', '--json']).done;
    expect(JSON.parse(history.stdout)[0]).toMatchObject({ deploymentId: id, outcome: 'SUCCEEDED' });
    const report = await cli(['--local', 'report', id, '--json']).done;
    expect(JSON.parse(report.stdout)).toMatchObject({ deploymentId: id, outcome: 'SUCCEEDED' });
  });
});

describe('--local: a release that rolls back', () => {
  test('watch --json, status --watch --json and start --follow --json all end ROLLED_BACK with exit code 3', async () => {
    const id = 'lw-rb';
    // 5% errors on the new version: the canary window fails.
    f.env.setProfile(
      'shop',
      parseProfile({
        name: 'canary-errors',
        seed: 3,
        rps: 200,
        versions: {
          stable: { errorRate: 0.0002, latency: { p50Ms: 50, p99Ms: 180 } },
          // 1.5%: even at the replica-ratio router's real share (up to 50%) the service fails
          // under the error-rate alarm's 1%, which the local CloudWatch evaluates, so the canary
          // window's verdict (an execution that FAILED with ReleaseRolledBack) is what this tests.
          canary: { errorRate: 0.015, latency: { p50Ms: 50, p99Ms: 180 } },
        },
      }),
    );
    const started = cli(startFollow(id, '--json'));
    await recordWhen(f, id, 'the approval request', (r) => !!r.pendingApproval);
    const listed = JSON.parse((await cli(['--local', 'list', '--json']).done).stdout);
    expect(listed).toEqual([
      expect.objectContaining({
        deploymentId: id,
        phase: null,
        outcome: 'RUNNING',
        waiting: `approval: tps-deploy approve|reject ${id}`,
      }),
    ]);
    // Started through the local API: the environment keeps it until it ends.
    expect(f.env.apiRunsRunning).toBe(1);
    const watching = cli(['--local', 'watch', id, '--json', ...POLL]);
    const status = cli(['--local', 'status', id, '--watch', '--json', '--interval', '0.2']);
    await printed(watching.stderr, `waiting for a person: tps-deploy approve ${id}`);
    await printed(status.stdout, '"outcome":"RUNNING"');
    await answerPending(f.env.ports, { service: 'shop', deploymentId: id, yes: true, by: 'lead' });

    const [s, w, st] = await Promise.all([started.done, watching.done, status.done]);
    expect([s.code, w.code, st.code]).toEqual([3, 3, 3]);
    await f.env.apiRunsEnded();
    expect(f.env.apiRunsRunning).toBe(0);
    const summary = {
      service: 'shop',
      deploymentId: id,
      executionArn: f.env.executionArn('shop', id),
      status: 'FAILED',
      error: 'ReleaseRolledBack',
      outcome: 'ROLLED_BACK',
      exitCode: 3,
      links: null,
    };
    expect(JSON.parse(w.stdout)).toMatchObject(summary);
    expect(JSON.parse(s.stdout)).toEqual(JSON.parse(w.stdout));
    // The progress went to stderr, the same lines for both.
    const lines = (text: string) => progress(text).filter((l) => l.startsWith('['));
    expect(lines(w.stderr)).toEqual(lines(s.stderr));
    expect(w.stderr).toMatch(/verdict fail: /);
    expect(w.stderr).toContain('▸ Roll Back');
    expect(w.stderr).toContain('execution FAILED: ReleaseRolledBack');
    // One JSON object per print; the last one is the outcome.
    const prints = st.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { outcome: string; execution: { status: string } | null });
    expect(prints[0]).toMatchObject({ outcome: 'RUNNING', execution: { status: 'RUNNING' } });
    // The record's outcome ends it: "Roll Back" writes it just before the execution fails.
    expect(prints.at(-1)).toMatchObject({ outcome: 'ROLLED_BACK' });
    expect(['RUNNING', 'FAILED']).toContain(prints.at(-1)!.execution!.status);
  });
});

describe('tps-deploy local, followed from a second CLI', () => {
  const namespaces: string[] = [];
  afterAll(async () => {
    await Promise.all(namespaces.map(deleteNamespace));
  });

  test('--local watch follows the release `local` runs and exits as `local` does; the state file goes with it', async () => {
    const statePath = join(dir, 'local-command.json');
    const ns = `cli-lw-local-${Date.now().toString(36)}`;
    namespaces.push(ns);
    const local = cli(
      ['local', '--kubeconfig', clusterEnv().kubeconfig, '--namespace', ns, '--json', '--linger', '2'],
      statePath,
    );
    const id = await eventually(
      'local to name its deployment',
      async () => /==> deployment (local-\S+):/.exec(local.stderr.text)?.[1],
      { timeoutMs: 120_000, intervalMs: 50 },
    );
    expect(existsSync(statePath)).toBe(true);
    const watching = cli(['--local', 'watch', id, '--json', ...POLL], statePath);
    const [l, w] = await Promise.all([local.done, watching.done]);
    expect(l.code).toBe(0);
    expect(w.code).toBe(l.code);
    expect(JSON.parse(w.stdout)).toMatchObject({
      service: 'storefront',
      deploymentId: id,
      status: 'SUCCEEDED',
      outcome: 'SUCCEEDED',
      exitCode: 0,
    });
    expect(JSON.parse(l.stdout)).toMatchObject({ deploymentId: id, outcome: 'SUCCEEDED' });
    expect(w.stderr).toContain('▸ Shift 10% To Canary');
    // It served the attached CLI until it went quiet, then went.
    expect(l.stderr).toContain(
      '==> a CLI is attached: serving it until it has been quiet for 2 s (--linger)',
    );
    // Gone with its environment: a CLI now says no local environment runs.
    expect(existsSync(statePath)).toBe(false);
    const after = await cli(['--local', 'list'], statePath).done;
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('no local environment is running');
  });
});
