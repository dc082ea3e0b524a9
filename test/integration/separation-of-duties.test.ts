/**
 * Separation of duties on a real local run (synthesized state machine, local cluster, dynalite):
 * a release started as a verified developer waits for approval; the requester and a principal
 * outside the approvers are refused, a listed lead approves through the answer step, and the
 * record names each verified ARN. The task token is in no log line the functions wrote and in no
 * record.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { parseCatalog } from '../../functions/domain/config.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import { AnswerRefusedError, startVerified } from '../../functions/release/answer.js';
import { deleteNamespace } from '../helpers/k8s.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES, recordWhen } from '../helpers/runbook.js';

jest.setTimeout(240_000);

const ACCOUNT = '111122223333';
const DEV = `arn:aws:sts::${ACCOUNT}:assumed-role/Developer/dana`;
/** The requester under the lead's role: the same person (same session name). */
const DEV_AS_LEAD = `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/dana`;
const OTHER = `arn:aws:sts::${ACCOUNT}:assumed-role/Developer/eve`;
const LEAD = `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/lee`;

const lines: string[] = [];
let f: ReleaseFixture;

const fixtures: ReleaseFixture[] = [];

/** A namespace of its own per release (a second release of the same images would meet the first's). */
async function sodFixture(name: string): Promise<ReleaseFixture> {
  const made = await releaseFixture(name, 'replica-ratio', {
    service: {
      onCall: ALWAYS_ON_CALL,
      duties: {
        approvers: [`arn:aws:iam::${ACCOUNT}:role/TeamLead`],
        // The leads' role names each session after its person (its trust policy says so).
        personalSessionRoles: [
          `arn:aws:iam::${ACCOUNT}:role/TeamLead`,
          `arn:aws:iam::${ACCOUNT}:role/Developer`,
        ],
      },
    },
    env: { functionOutput: (line) => lines.push(line) },
  });
  fixtures.push(made);
  return made;
}

beforeAll(async () => {
  f = await sodFixture('sod');
});

afterAll(async () => {
  for (const made of fixtures) {
    await made.env.stop();
    await deleteNamespace(made.app.namespace);
  }
});

describe('separation of duties on a local run', () => {
  test('requester and outsider refused, the lead approves; verified ARNs recorded; the token nowhere', async () => {
    const name = 'sod-1';
    const input = { service: 'shop', images: NEW_IMAGES, requestedBy: DEV, ...ATTESTED };
    // The verified start the endpoint writes before StartExecution.
    await startVerified(
      f.env.ports,
      { arn: DEV, accountId: ACCOUNT, callerId: null },
      parseExecutionInput(input, parseCatalog(f.catalog), name),
    );
    const running = f.env.run(input, { executionName: name });
    const waiting = await recordWhen(f, name, 'the approval request', (r) => !!r.pendingApproval);
    expect(waiting.requester).toEqual({ principal: DEV, verified: true });
    const token = (await f.env.store.taskToken('shop', name))!;
    expect(token).toBeTruthy();

    const ask = { service: 'shop', deploymentId: name, action: 'approve' } as const;
    await expect(f.env.answer(ask, DEV_AS_LEAD)).rejects.toThrow(
      new AnswerRefusedError(
        `${DEV_AS_LEAD} requested this release and may not approve it (separation of duties)`,
      ),
    );
    await expect(f.env.answer(ask, OTHER)).rejects.toThrow(/is not among the approvers of shop/);
    expect((await f.env.store.get('shop', name))!.answers).toBeUndefined();

    const answered = await f.env.answer({ ...ask, reason: 'go' }, LEAD);
    expect(answered).toMatchObject({ action: 'approve', principal: LEAD, phase: null });
    const run = await running;
    expect(run.status).toBe('SUCCEEDED');
    const rec = run.record!;
    expect(rec.approval).toMatchObject({ decision: 'approved', by: LEAD, comment: 'go', verified: true });
    expect(rec.answers).toEqual([
      expect.objectContaining({ action: 'approve', principal: LEAD, reason: 'go' }),
    ]);
    expect(rec.requester).toEqual({ principal: DEV, verified: true });

    // The token: gone from the table, and never in a record or a log line.
    expect(await f.env.store.taskToken('shop', name)).toBeNull();
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.filter((l) => l.includes(token))).toEqual([]);
    expect(JSON.stringify(rec)).not.toContain(token);
    expect(JSON.stringify(await f.env.store.history('shop', 10))).not.toContain(token);
  });

  test("a start not through the endpoint: one lead's approval is recorded and the release keeps waiting; a second lead's lets it go on", async () => {
    const name = 'sod-2';
    const f = await sodFixture('sod2');
    const LEAD2 = `arn:aws:sts::${ACCOUNT}:assumed-role/TeamLead/liz`;
    // StartExecution directly (console, pipeline): the input's requestedBy is a typed name.
    const running = f.env.run(
      { service: 'shop', images: NEW_IMAGES, requestedBy: 'lee', ...ATTESTED },
      { executionName: name },
    );
    const waiting = await recordWhen(f, name, 'the approval request', (r) => !!r.pendingApproval);
    expect(waiting.requester).toEqual({ principal: 'lee', verified: false });
    const ask = { service: 'shop', deploymentId: name, action: 'approve' } as const;
    expect(await f.env.answer(ask, LEAD)).toMatchObject({
      delivered: false,
      approvals: { given: 1, needed: 2 },
    });
    // Still waiting: nothing was sent to the state machine.
    const still = (await f.env.store.get('shop', name))!;
    expect(still.pendingApproval).toBeTruthy();
    expect(still.approval ?? null).toBeNull();
    expect(await f.env.store.taskToken('shop', name)).toBeTruthy();
    await expect(f.env.answer(ask, LEAD)).rejects.toThrow(/already said yes to this wait/);

    expect(await f.env.answer(ask, LEAD2)).toMatchObject({
      delivered: true,
      approvals: { given: 2, needed: 2 },
    });
    const run = await running;
    expect(run.status).toBe('SUCCEEDED');
    expect(run.record!.approval).toMatchObject({ decision: 'approved', by: LEAD2, verified: true });
    expect(run.record!.answers!.map((a) => [a.principal, a.delivered ?? true])).toEqual([
      [LEAD, false],
      [LEAD2, true],
    ]);
  });

  test('hold and abort through the endpoint step: outsiders refused with nothing written, verified ARNs recorded, rolled back', async () => {
    // A fresh service: the first test released NEW_IMAGES already (a second release of the same
    // version would measure canary and stable as one version).
    const g = await releaseFixture('sod-steer', 'replica-ratio', {
      service: {
        onCall: ALWAYS_ON_CALL,
        duties: {
          approvers: [`arn:aws:iam::${ACCOUNT}:role/TeamLead`],
          personalSessionRoles: [
            `arn:aws:iam::${ACCOUNT}:role/TeamLead`,
            `arn:aws:iam::${ACCOUNT}:role/Developer`,
          ],
        },
      },
    });
    try {
      await holdAndAbort(g);
    } finally {
      await g.env.stop();
      await deleteNamespace(g.app.namespace);
    }
  });

  test('rollback through the endpoint step: handed to the rollback function, which restores the previous version as person:<ARN>', async () => {
    // sod-1 (the first test) SUCCEEDED and is the latest release of the first fixture.
    await expect(f.env.steer({ service: 'shop', action: 'rollback' }, OTHER)).rejects.toThrow(
      /is not among the aborters of shop/,
    );
    expect((await f.env.store.get('shop', 'sod-1'))!.outcome).toBe('SUCCEEDED');
    const r = await f.env.steer({ service: 'shop', action: 'rollback', reason: 'customer reports' }, LEAD);
    expect(r).toMatchObject({ deploymentId: 'sod-1', effect: 'rollback-requested', principal: LEAD });
    expect(f.env.undelivered).toEqual([]);
    const rec = (await f.env.store.get('shop', 'sod-1'))!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(rec.rollback).toMatchObject({
      trigger: `person:${LEAD}`,
      reason: `rollback requested by ${LEAD} (verified): customer reports`,
    });
    expect(rec.events.map((e) => e.message)).toContain(
      `rollback requested by ${LEAD} (verified): customer reports: handed to the rollback function`,
    );
  });
});

async function holdAndAbort(f: ReleaseFixture): Promise<void> {
  const name = 'sod-2';
  const input = { service: 'shop', images: NEW_IMAGES, requestedBy: DEV, ...ATTESTED };
  // Started through the endpoint (verified), so one lead's approval is enough.
  await startVerified(
    f.env.ports,
    { arn: DEV, accountId: ACCOUNT, callerId: null },
    parseExecutionInput(input, parseCatalog(f.catalog), name),
  );
  const running = f.env.run(input, { executionName: name });
  await recordWhen(f, name, 'the approval request', (r) => !!r.pendingApproval);
  const at = { service: 'shop', deploymentId: name } as const;

  const before = JSON.stringify(await f.env.store.get('shop', name));
  await expect(f.env.steer({ ...at, action: 'hold' }, OTHER)).rejects.toThrow(
    new AnswerRefusedError(
      `${OTHER} is not among the promoters or approvers of shop (catalog services.shop.duties): may not hold`,
    ),
  );
  expect(JSON.stringify(await f.env.store.get('shop', name))).toBe(before);
  await expect(f.env.steer({ ...at, action: 'hold', reason: 'watch' }, LEAD)).resolves.toMatchObject({
    effect: 'held',
    principal: LEAD,
  });
  await f.env.answer({ ...at, action: 'approve' }, LEAD);
  const held = await recordWhen(f, name, 'the hold at canary', (r) => r.pendingApproval?.phase === 'canary');
  expect(held.hold).toMatchObject({ requestedBy: LEAD, reason: 'watch', pending: { phase: 'canary' } });

  await expect(f.env.steer({ ...at, action: 'stop' }, OTHER)).rejects.toThrow(
    /is not among the aborters of shop/,
  );
  expect((await f.env.store.get('shop', name))!.outcome).toBe('RUNNING');
  await expect(f.env.steer({ ...at, action: 'stop', reason: 'enough' }, LEAD)).resolves.toMatchObject({
    effect: 'stopped',
  });
  const run = await running;
  expect(run.status).toBe('ABORTED');
  const rec = await recordWhen(f, name, 'the rollback', (r) => r.outcome === 'ROLLED_BACK');
  expect(rec.rollback).toMatchObject({ phase: 'canary' });
  const events = rec.events.map((e) => e.message);
  expect(events).toContain(`hold requested by ${LEAD}: watch`);
  expect(events.some((m) => m.startsWith(`abort by ${LEAD} (verified): enough`))).toBe(true);
  expect(await f.env.store.active('shop')).toBeNull();
}
