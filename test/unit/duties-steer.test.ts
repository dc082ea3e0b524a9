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
};
const caller = (arn: string) => ({ arn, accountId: A, callerId: null });
const allowed = (arn: string, action: (typeof STEER_ACTIONS)[number], d: DutiesConfig | undefined = duties) =>
  decideSteer({ service: 'api', duties: d, action, caller: caller(arn), requester: null }).allowed;

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
    // An unverified requester name proves nothing.
    expect(
      decideSteer({
        service: 'api',
        duties: both,
        action: 'withdraw',
        caller: caller(self),
        requester: { principal: DEV, verified: false },
      }).allowed,
    ).toBe(true);
  });
});
