/** Separation of duties for hold, withdraw, stop, rollback and unlock (functions/domain/duties.ts rules 5 and 6). */
import { describe, expect, test } from '@jest/globals';
import {
  type DutiesConfig,
  decideSteer,
  STEER_ACTIONS,
  steerPrincipals,
} from '../../functions/domain/duties.js';

const A = '123456789012';
const LEAD = `arn:aws:sts::${A}:assumed-role/TeamLead/alice`;
const RELEASER = `arn:aws:sts::${A}:assumed-role/Releaser/rita`;
const ONCALL = `arn:aws:sts::${A}:assumed-role/OnCall/sam`;
const DEV = `arn:aws:sts::${A}:assumed-role/Developer/dev`;
const duties: DutiesConfig = {
  approvers: [`arn:aws:iam::${A}:role/TeamLead`],
  promoters: [`arn:aws:iam::${A}:role/Releaser`],
  aborters: [`arn:aws:iam::${A}:role/OnCall`],
  personalSessionRoles: [`arn:aws:iam::${A}:role/TeamLead`, `arn:aws:iam::${A}:role/Releaser`],
};
const caller = (arn: string) => ({ arn, accountId: A, callerId: null });
/** A verified requester AWS names (IAM Identity Center). */
const SSO_DEV = { principal: `arn:aws:sts::${A}:assumed-role/AWSReservedSSO_Dev_ab12/dev`, verified: true };
const allowed = (arn: string, action: (typeof STEER_ACTIONS)[number], d: DutiesConfig | undefined = duties) =>
  decideSteer({ service: 'api', duties: d, action, caller: caller(arn), requester: SSO_DEV }).allowed;

describe('decideSteer', () => {
  test.each([
    // hold and withdraw: promoters or approvers
    [LEAD, 'hold', true],
    [RELEASER, 'hold', true],
    [ONCALL, 'hold', false],
    [DEV, 'hold', false],
    [LEAD, 'withdraw', true],
    [RELEASER, 'withdraw', true],
    [ONCALL, 'withdraw', false],
    // stop, rollback, unlock: aborters
    [ONCALL, 'stop', true],
    [LEAD, 'stop', false],
    [RELEASER, 'rollback', false],
    [ONCALL, 'rollback', true],
    [ONCALL, 'unlock', true],
    [DEV, 'unlock', false],
  ] as const)('%s %s: %s', (arn, action, expected) => {
    expect(allowed(arn, action)).toBe(expected);
  });

  test('aborters default to the approvers; a service without duties lets nobody steer', () => {
    const leadsOnly = { approvers: duties.approvers };
    expect(allowed(LEAD, 'stop', leadsOnly)).toBe(true);
    expect(allowed(ONCALL, 'stop', leadsOnly)).toBe(false);
    expect(steerPrincipals(leadsOnly, 'unlock').principals).toEqual(duties.approvers);
    for (const action of STEER_ACTIONS) {
      const d = decideSteer({
        service: 'api',
        duties: undefined,
        action,
        caller: caller(LEAD),
        requester: null,
      });
      expect(d).toEqual({
        allowed: false,
        reason: `service api declares no approvers (catalog services.api.duties.approvers): nobody may ${action} its releases`,
      });
    }
  });

  test('a requester who is not a verified person: only whoever placed the hold withdraws it (another could be the requester)', () => {
    const decide = (
      requester: { principal: string; verified: boolean },
      holder: string | null,
      who = RELEASER,
    ) => decideSteer({ service: 'api', duties, action: 'withdraw', caller: caller(who), requester, holder });
    for (const requester of [
      { principal: 'dana', verified: false },
      { principal: `arn:aws:sts::${A}:assumed-role/Deployer/ci`, verified: true },
    ]) {
      expect(decide(requester, LEAD)).toEqual({
        allowed: false,
        reason: expect.stringMatching(
          /not a verified person, so .* could be them: only .*TeamLead\/alice may withdraw it/,
        ),
      });
      expect(decide(requester, LEAD, LEAD)).toEqual({ allowed: true });
    }
    // A verified person as requester: anyone else among the promoters may withdraw.
    expect(decide(SSO_DEV, LEAD)).toEqual({ allowed: true });
  });

  test('the verified requester may hold or stop their own release, never withdraw its hold', () => {
    const self = `arn:aws:sts::${A}:assumed-role/OnCall/dev`;
    const requester = { principal: DEV, verified: true };
    const both = { approvers: [`arn:aws:iam::${A}:role/OnCall`] };
    const decide = (action: (typeof STEER_ACTIONS)[number]) =>
      decideSteer({ service: 'api', duties: both, action, caller: caller(self), requester });
    expect(decide('hold').allowed).toBe(true);
    expect(decide('stop').allowed).toBe(true);
    expect(decide('withdraw')).toEqual({
      allowed: false,
      reason: `${self} requested this release and may not withdraw its hold (separation of duties)`,
    });
    // An unverified requester's name proves nothing either way: only the hold's own placer withdraws.
    const unverified = { principal: DEV, verified: false };
    const withdraw = (holder: string) =>
      decideSteer({
        service: 'api',
        duties: both,
        action: 'withdraw',
        caller: caller(self),
        requester: unverified,
        holder,
      });
    expect(withdraw(self).allowed).toBe(true);
    expect(withdraw(LEAD).allowed).toBe(false);
  });
});
