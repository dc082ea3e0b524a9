/** Separation of duties, pure: principal patterns, the same person, and the decision on an answer. */
import { describe, expect, test } from '@jest/globals';
import { parseCatalog } from '../../functions/domain/config.js';
import {
  type DutiesConfig,
  decideAnswer,
  decideStart,
  principalMatches,
  samePerson,
} from '../../functions/domain/duties.js';
import { ConfigError } from '../../functions/domain/errors.js';
import { CATALOG } from './cli-harness.js';

const A = '123456789012';
const LEAD_SESSION = `arn:aws:sts::${A}:assumed-role/TeamLead/alice`;

describe('principalMatches', () => {
  test.each([
    // role ARN -> its sessions (the session ARN has no path)
    [`arn:aws:iam::${A}:role/TeamLead`, LEAD_SESSION, true],
    [`arn:aws:iam::${A}:role/teams/payments/TeamLead`, LEAD_SESSION, true],
    [`arn:aws:iam::${A}:role/TeamLead`, `arn:aws:sts::${A}:assumed-role/Developer/alice`, false],
    [`arn:aws:iam::${A}:role/TeamLead`, `arn:aws:sts::210987654321:assumed-role/TeamLead/alice`, false],
    [`arn:aws:iam::${A}:role/TeamLead`, `arn:aws-cn:sts::${A}:assumed-role/TeamLead/alice`, false],
    [`arn:aws:iam::${A}:role/TeamLead`, `arn:aws:iam::${A}:user/TeamLead`, false],
    // patterns
    [
      `arn:aws:iam::${A}:role/AWSReservedSSO_Lead_*`,
      `arn:aws:sts::${A}:assumed-role/AWSReservedSSO_Lead_ab12/bo@x.com`,
      true,
    ],
    [
      `arn:aws:iam::${A}:role/AWSReservedSSO_Lead_*`,
      `arn:aws:sts::${A}:assumed-role/AWSReservedSSO_Dev_ab12/bo@x.com`,
      false,
    ],
    [`arn:aws:sts::${A}:assumed-role/TeamLead/alice`, LEAD_SESSION, true],
    [`arn:aws:sts::${A}:assumed-role/TeamLead/bob`, LEAD_SESSION, false],
    [`arn:aws:sts::${A}:assumed-role/TeamLead/*`, LEAD_SESSION, true],
    // users
    [`arn:aws:iam::${A}:user/alice`, `arn:aws:iam::${A}:user/alice`, true],
    [`arn:aws:iam::${A}:user/alice`, `arn:aws:iam::${A}:user/alicex`, false],
    // a pattern with "*" in the account is not a pattern of the catalog
    [`arn:aws:iam::*:role/TeamLead`, LEAD_SESSION, false],
    ['not an arn', LEAD_SESSION, false],
  ])('%s ~ %s: %s', (pattern, caller, expected) => {
    expect(principalMatches(pattern, caller)).toBe(expected);
  });
});

describe('samePerson', () => {
  test.each([
    [LEAD_SESSION, LEAD_SESSION, true],
    // the same session name under another role of the account: the same person
    [`arn:aws:sts::${A}:assumed-role/Developer/alice`, LEAD_SESSION, true],
    [`arn:aws:sts::${A}:assumed-role/Developer/bob`, LEAD_SESSION, false],
    [`arn:aws:sts::210987654321:assumed-role/Developer/alice`, LEAD_SESSION, false],
    [`arn:aws:iam::${A}:user/alice`, LEAD_SESSION, false],
    // two sessions of one role whose session names the caller chooses (plain AssumeRole): the
    // caller could be anyone allowed to assume it, so they count as one person
    [`arn:aws:sts::${A}:assumed-role/TeamLead/bob`, LEAD_SESSION, true],
    // IAM Identity Center sets the session name to the user's: two names, two people
    [
      `arn:aws:sts::${A}:assumed-role/AWSReservedSSO_Lead_ab12/bob@x.com`,
      `arn:aws:sts::${A}:assumed-role/AWSReservedSSO_Lead_ab12/alice@x.com`,
      false,
    ],
    [
      `arn:aws:sts::${A}:assumed-role/AWSReservedSSO_Dev_ab12/alice@x.com`,
      `arn:aws:sts::${A}:assumed-role/AWSReservedSSO_Lead_ab12/alice@x.com`,
      true,
    ],
  ])('%s / %s: %s', (a, b, expected) => {
    expect(samePerson(a, b)).toBe(expected);
  });

  test('a role the catalog declares personal (its trust policy fixes the session name) tells its sessions apart', () => {
    const bob = `arn:aws:sts::${A}:assumed-role/TeamLead/bob`;
    expect(samePerson(bob, LEAD_SESSION, [`arn:aws:iam::${A}:role/TeamLead`])).toBe(false);
    expect(samePerson(bob, LEAD_SESSION, [`arn:aws:iam::${A}:role/Other`])).toBe(true);
    // the same name stays the same person
    expect(
      samePerson(`arn:aws:sts::${A}:assumed-role/Dev/alice`, LEAD_SESSION, [
        `arn:aws:iam::${A}:role/TeamLead`,
      ]),
    ).toBe(true);
  });
});

describe('decideAnswer', () => {
  // TeamLead's trust policy fixes the session name to the person's (declared personal).
  const duties: DutiesConfig = {
    approvers: [`arn:aws:iam::${A}:role/TeamLead`],
    aborters: [`arn:aws:iam::${A}:role/OnCall`],
    personalSessionRoles: [`arn:aws:iam::${A}:role/TeamLead`],
  };
  const caller = (arn: string) => ({ arn, accountId: A, callerId: null });
  /** A developer signed in through IAM Identity Center: a person AWS names. */
  const DEV_SSO = `arn:aws:sts::${A}:assumed-role/AWSReservedSSO_Dev_ab12/dev`;
  const base = {
    service: 'api',
    duties,
    requester: { principal: DEV_SSO, verified: true },
    waiting: { kind: 'approval' } as const,
  };

  test('a listed approver approves; the answer is yes', () => {
    expect(decideAnswer({ ...base, action: 'approve', caller: caller(LEAD_SESSION) })).toEqual({
      allowed: true,
      yes: true,
      deliver: true,
      approvals: { given: 1, needed: 1 },
    });
  });

  test('a principal not among the approvers is refused, naming the list', () => {
    const d = decideAnswer({
      ...base,
      action: 'approve',
      caller: caller(`arn:aws:sts::${A}:assumed-role/Developer/bob`),
    });
    expect(d).toEqual({ allowed: false, reason: expect.stringMatching(/is not among the approvers of api/) });
  });

  test('the verified requester may not approve their own release, under any role', () => {
    const d = decideAnswer({
      ...base,
      requester: {
        principal: `arn:aws:sts::${A}:assumed-role/AWSReservedSSO_Dev_ab12/alice`,
        verified: true,
      },
      action: 'approve',
      caller: caller(LEAD_SESSION),
    });
    expect(d).toEqual({
      allowed: false,
      reason: expect.stringMatching(/requested this release and may not approve/),
    });
  });

  test("a verified requester who is not a person of the approvers' kind (a CI role, an IAM user) counts as unknown: two people must approve", () => {
    // Alice starts as Deployer/x (a session name she chose), then approves as TeamLead/alice:
    // nothing ties the two, so her yes alone does not end the wait.
    for (const principal of [`arn:aws:sts::${A}:assumed-role/Deployer/x`, `arn:aws:iam::${A}:user/alice`]) {
      expect(
        decideAnswer({
          ...base,
          requester: { principal, verified: true },
          action: 'approve',
          caller: caller(LEAD_SESSION),
        }),
      ).toEqual({ allowed: true, yes: true, deliver: false, approvals: { given: 1, needed: 2 } });
    }
  });

  test("a yes from a principal that does not identify one person is refused (its session name is the caller's)", () => {
    const plain = { ...duties, personalSessionRoles: [] };
    expect(decideAnswer({ ...base, duties: plain, action: 'approve', caller: caller(LEAD_SESSION) })).toEqual(
      {
        allowed: false,
        reason: expect.stringMatching(/does not identify one person/),
      },
    );
  });

  test('an unverified requester: a yes needs two different people, so one is not the requester', () => {
    const unverified = { ...base, requester: { principal: LEAD_SESSION, verified: false } };
    // The typed name proves nothing, so it is not compared; the first yes is recorded, not sent.
    expect(decideAnswer({ ...unverified, action: 'approve', caller: caller(LEAD_SESSION) })).toEqual({
      allowed: true,
      yes: true,
      deliver: false,
      approvals: { given: 1, needed: 2 },
    });
    // The same person again does not count twice, under another personal role either.
    for (const again of [LEAD_SESSION, `arn:aws:sts::${A}:assumed-role/AWSReservedSSO_Lead_ab12/alice`]) {
      expect(
        decideAnswer({
          ...unverified,
          duties: {
            ...duties,
            approvers: [...duties.approvers, `arn:aws:iam::${A}:role/AWSReservedSSO_Lead_*`],
          },
          action: 'approve',
          caller: caller(again),
          earlier: [LEAD_SESSION],
        }),
      ).toEqual({
        allowed: false,
        reason: expect.stringMatching(/already said yes to this wait.*2 different people/),
      });
    }
    // A second person ends the wait.
    expect(
      decideAnswer({
        ...unverified,
        action: 'approve',
        caller: caller(`arn:aws:sts::${A}:assumed-role/TeamLead/bob`),
        earlier: [LEAD_SESSION],
      }),
    ).toEqual({ allowed: true, yes: true, deliver: true, approvals: { given: 2, needed: 2 } });
    // Two earlier yes answers by one person (recorded concurrently) count once.
    expect(
      decideAnswer({
        ...unverified,
        duties: { ...duties, unverifiedStartApprovals: 3 },
        action: 'approve',
        caller: caller(`arn:aws:sts::${A}:assumed-role/TeamLead/bob`),
        earlier: [LEAD_SESSION, LEAD_SESSION],
      }),
    ).toEqual({ allowed: true, yes: true, deliver: false, approvals: { given: 2, needed: 3 } });
    // The catalog may accept one approval (and the risk); a no takes effect at once.
    expect(
      decideAnswer({
        ...unverified,
        duties: { ...duties, unverifiedStartApprovals: 1 },
        action: 'approve',
        caller: caller(LEAD_SESSION),
      }),
    ).toEqual({ allowed: true, yes: true, deliver: true, approvals: { given: 1, needed: 1 } });
    expect(decideAnswer({ ...unverified, action: 'reject', caller: caller(LEAD_SESSION) })).toMatchObject({
      allowed: true,
      yes: false,
      deliver: true,
    });
  });

  test('a start through the endpoint: anyone IAM lets in, or only the declared starters', () => {
    const dev = caller(`arn:aws:sts::${A}:assumed-role/Developer/dev`);
    expect(decideStart('api', duties, dev)).toEqual({ allowed: true });
    expect(decideStart('api', undefined, dev)).toEqual({ allowed: true });
    const starters = { ...duties, starters: [`arn:aws:iam::${A}:role/Releaser`] };
    expect(decideStart('api', starters, dev)).toEqual({
      allowed: false,
      reason: expect.stringMatching(
        /not among the starters of api \(catalog services\.api\.duties\.starters\)/,
      ),
    });
    expect(decideStart('api', starters, caller(`arn:aws:sts::${A}:assumed-role/Releaser/ci`))).toEqual({
      allowed: true,
    });
  });

  test('the requester may reject their own release', () => {
    expect(
      decideAnswer({
        ...base,
        requester: { principal: LEAD_SESSION, verified: true },
        action: 'reject',
        caller: caller(LEAD_SESSION),
      }),
    ).toMatchObject({ allowed: true, yes: false, deliver: true });
  });

  test('abort needs an aborter, promote defaults to the approvers; each answers only a hold', () => {
    const hold = { kind: 'hold', phase: 'canary' } as const;
    expect(
      decideAnswer({ ...base, waiting: hold, action: 'abort', caller: caller(LEAD_SESSION) }).allowed,
    ).toBe(false);
    expect(
      decideAnswer({
        ...base,
        waiting: hold,
        action: 'abort',
        caller: caller(`arn:aws:sts::${A}:assumed-role/OnCall/sre`),
      }),
    ).toMatchObject({ allowed: true, yes: false, deliver: true });
    expect(
      decideAnswer({ ...base, waiting: hold, action: 'promote', caller: caller(LEAD_SESSION) }),
    ).toMatchObject({ allowed: true, yes: true, deliver: true });
    expect(decideAnswer({ ...base, waiting: hold, action: 'approve', caller: caller(LEAD_SESSION) })).toEqual(
      {
        allowed: false,
        reason: expect.stringMatching(/held at canary/),
      },
    );
    expect(decideAnswer({ ...base, action: 'promote', caller: caller(LEAD_SESSION) }).allowed).toBe(false);
  });

  test('a service without duties lets nobody answer through the endpoint', () => {
    expect(
      decideAnswer({ ...base, duties: undefined, action: 'approve', caller: caller(LEAD_SESSION) }),
    ).toEqual({
      allowed: false,
      reason: expect.stringMatching(/declares no approvers \(catalog services\.api\.duties\.approvers\)/),
    });
  });
});

describe('the catalog duties block', () => {
  const withDuties = (duties: unknown) => ({
    ...CATALOG,
    services: { ...CATALOG.services, api: { ...CATALOG.services.api!, duties } },
  });
  const pathsOf = (input: unknown): string[] => {
    try {
      parseCatalog(input as never);
    } catch (e) {
      return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    }
    return [];
  };

  test('approvers and promoters must identify one person: a plain role is refused, with how to fix it', () => {
    const issues = pathsOf(
      withDuties({
        approvers: [`arn:aws:iam::${A}:role/TeamLead`],
        promoters: [`arn:aws:sts::${A}:assumed-role/Lead/alice`],
      }),
    );
    expect(issues).toEqual([
      expect.stringMatching(
        /^services\.api\.duties\.approvers\.0: .*does not identify one person.*personalSessionRoles/,
      ),
      expect.stringMatching(/^services\.api\.duties\.promoters\.0: .*does not identify one person/),
    ]);
    // Declared personal, Identity Center, or IAM users: accepted; aborters may be any role.
    expect(
      pathsOf(
        withDuties({
          approvers: [`arn:aws:iam::${A}:role/TeamLead`, `arn:aws:iam::${A}:role/AWSReservedSSO_Lead_*`],
          aborters: [`arn:aws:iam::${A}:role/OnCall`],
          personalSessionRoles: [`arn:aws:iam::${A}:role/TeamLead`],
        }),
      ),
    ).toEqual([]);
    expect(
      pathsOf(withDuties({ approvers: [`arn:aws:iam::${A}:user/alice`, `arn:aws:iam::${A}:user/bob`] })),
    ).toEqual([]);
  });

  test('IAM users and role sessions are not mixed among approvers: one person may hold one of each', () => {
    expect(
      pathsOf(
        withDuties({
          approvers: [`arn:aws:iam::${A}:user/alice`, `arn:aws:iam::${A}:role/AWSReservedSSO_Lead_*`],
        }),
      ),
    ).toEqual([
      expect.stringMatching(/^services\.api\.duties\.approvers: .*mix IAM users and role sessions/),
    ]);
  });

  test('a role pattern may not match every role: no "*" in the path, a literal character in the name', () => {
    const issues = pathsOf(
      withDuties({
        approvers: [`arn:aws:iam::${A}:user/alice`],
        aborters: [
          `arn:aws:iam::${A}:role/payments/*`,
          `arn:aws:iam::${A}:role/*`,
          `arn:aws:iam::${A}:role/pay*/OnCall`,
        ],
      }),
    );
    expect(issues).toEqual([
      expect.stringMatching(/^services\.api\.duties\.aborters\.0: .*literal character/),
      expect.stringMatching(/^services\.api\.duties\.aborters\.1: .*literal character/),
      expect.stringMatching(/^services\.api\.duties\.aborters\.2: .*no "\*" in a role's path/),
    ]);
  });

  test('refuses principals that are not role, user or session ARNs, naming each field', () => {
    const bad = {
      ...CATALOG,
      services: {
        ...CATALOG.services,
        api: {
          ...CATALOG.services.api!,
          duties: { approvers: ['alice', `arn:aws:iam::*:role/Lead`], promoters: [] },
        },
      },
    };
    let error: unknown;
    try {
      parseCatalog(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'services.api.duties.approvers.0',
        'services.api.duties.approvers.1',
        'services.api.duties.promoters',
      ]),
    );
  });
});
