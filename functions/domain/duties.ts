/**
 * Separation of duties, pure: who may answer a waiting release, as IAM principals declared per
 * service in the catalog (`duties`), and the decision on one answer from a verified caller.
 *
 * Rules (each one tested in test/unit/duties.test.ts):
 * 1. Only a verified caller answers. The caller's ARN is the one the Lambda service put in the
 *    function URL request (`requestContext.authorizer.iam.userArn`, AWS_IAM auth), never a name
 *    the caller typed.
 * 2. Approve and reject need a principal in `approvers`; promote needs `promoters`, abort
 *    `aborters` (each defaults to `approvers`). A service without `duties.approvers` lets nobody
 *    answer through the endpoint. A start through the endpoint needs `starters` when the service
 *    declares them.
 * 3. The requester never approves (or promotes) their own release, when the requester is known
 *    from a verified start (`samePerson`).
 * 4. A yes (approve, promote) proves the separation only when it comes from a principal that
 *    identifies one person (rule 5), and the catalog lets only such principals approve or promote
 *    (`approvers`, `promoters`), all of one kind (IAM users, or sessions of personal roles), since
 *    one person may hold one of each. When the requester is not identified (a start with
 *    StartExecution directly: console, pipeline; or a verified start by a principal that is not a
 *    person of that kind, e.g. a CI role), nobody can tell whether an approver is the requester: a
 *    yes takes effect only once `unverifiedStartApprovals` different people (default 2) have given
 *    it to the same wait, so at least one of them is not the requester. A no (reject, abort) takes
 *    effect at once.
 * 5. Who is a person: an IAM user is one; an assumed-role session is the person its session name
 *    says when AWS sets that name (IAM Identity Center's `AWSReservedSSO_*` roles) or when the
 *    catalog declares the role's trust policy enforces it (`personalSessionRoles`). Any other
 *    session's name is the caller's choice: two sessions of the same role count as the same
 *    person, and two sessions with the same name under any roles too.
 * 6. A principal pattern names a role, an IAM user or an assumed-role session, with a literal
 *    partition and account; `*` (any characters) only in the part after the account. A role ARN
 *    matches the sessions of that role: `arn:aws:iam::A:role/[path/]R` matches
 *    `arn:aws:sts::A:assumed-role/R/<session>` (a session ARN does not carry the role's path, and
 *    role names are unique in an account whatever their path).
 */
import { z } from 'zod';

/** What a person answers. approve/reject answer an approval; promote/abort answer a hold. */
export const ANSWER_ACTIONS = ['approve', 'reject', 'promote', 'abort'] as const;
export type AnswerAction = (typeof ANSWER_ACTIONS)[number];

const PRINCIPAL_PATTERN =
  /^arn:(aws|aws-cn|aws-us-gov):(iam::\d{12}:(role|user)\/[^\s]+|sts::\d{12}:assumed-role\/[^\s/]+\/[^\s]+)$/;

/**
 * A role pattern matches sessions by the role's name only (a session ARN has no path), so `*` in
 * the path, or a name that is only `*`, would match every role of the account.
 */
function roleNameProblem(pattern: string): string | null {
  const m =
    /^arn:[^:]+:iam::\d{12}:role\/(.*)$/.exec(pattern) ??
    /^arn:[^:]+:sts::\d{12}:assumed-role\/([^/]+)\//.exec(pattern);
  if (!m) return null;
  const parts = m[1]!.split('/');
  const name = parts.at(-1)!;
  if (parts.slice(0, -1).some((p) => p.includes('*')))
    return 'no "*" in a role\'s path (a session ARN carries no path, so it would match any role)';
  if (name.replace(/\*/g, '') === '')
    return 'a role name with at least one literal character ("*" alone matches every role of the account)';
  return null;
}

/** An IAM principal pattern of the catalog (rule 6). */
export const principalPattern = z
  .string()
  .regex(
    PRINCIPAL_PATTERN,
    'must be a role, user or assumed-role ARN with a literal partition and 12-digit account, e.g. arn:aws:iam::123456789012:role/TeamLead or arn:aws:sts::123456789012:assumed-role/TeamLead/alice; "*" only after the account',
  )
  .superRefine((v, ctx) => {
    const problem = roleNameProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: `must have ${problem}` });
  });

/**
 * The catalog's `duties` block of a service: who answers its releases, and where its attestations
 * must come from. One block, so the separation of duties of a service reads in one place.
 */
export const dutiesSchema = z
  .object({
    /** Who approves or rejects a release (team leads), as IAM principals. */
    approvers: z.array(principalPattern).min(1),
    /** Who promotes a held release. @default approvers */
    promoters: z.array(principalPattern).min(1).optional(),
    /** Who aborts a held release (it rolls back). @default approvers */
    aborters: z.array(principalPattern).min(1).optional(),
    /**
     * Who may start a release through the verified endpoint (`tps-deploy start`).
     * @default anyone IAM lets invoke the endpoint's URL (`lambda:InvokeFunctionUrl`)
     */
    starters: z.array(principalPattern).min(1).optional(),
    /**
     * How many different people must approve (or promote) a release whose requester is not
     * verified (started with StartExecution directly: console, pipeline), so that one of them is
     * not the requester (rule 4). 1 accepts that the requester may approve their own release.
     * @default 2
     */
    unverifiedStartApprovals: z.number().int().min(1).max(5).optional(),
    /**
     * Roles whose trust policy makes the session name the person's own (e.g. a condition on
     * `sts:RoleSessionName` equal to `${aws:username}`, or a SAML/OIDC federation that sets it), as
     * role ARNs. IAM Identity Center roles (`AWSReservedSSO_*`) are personal without being listed.
     * Two sessions of a role not listed count as one person (rule 5).
     * @default none
     */
    personalSessionRoles: z.array(principalPattern).optional(),
    /**
     * `attestations.testsPassed` must come from this action of this CodePipeline pipeline (in the
     * stack's account and region), not from a person: Validate Input refuses an input whose
     * provenance names another source, and the "tests provenance" gate asks CodePipeline whether
     * that action execution ran in that pipeline, succeeded, and exported TPS_TESTS_PASSED `true`
     * and TPS_IMAGE the released image (`TESTS_OUTPUT_VARIABLES`, judgeTestsProvenance).
     */
    requireTestsFrom: z
      .object({
        /** The pipeline's name. */
        pipeline: z.string().regex(/^[A-Za-z0-9.@_-]{1,100}$/, 'a CodePipeline pipeline name'),
        /** The action's name in the pipeline. */
        action: z.string().min(1).max(100),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    const personal = d.personalSessionRoles ?? [];
    const kinds = new Set<string>();
    for (const list of ['approvers', 'promoters'] as const) {
      (d[list] ?? []).forEach((p, i) => {
        const kind = patternKind(p, personal);
        if (kind === null) {
          ctx.addIssue({
            code: 'custom',
            path: [list, i],
            message: `${p} does not identify one person: its session names are the caller's choice, so an approval from it cannot show it is not the requester. Use an IAM Identity Center role (AWSReservedSSO_*), an IAM user, or list the role in personalSessionRoles if its trust policy fixes the session name to the person's`,
          });
        } else kinds.add(kind);
      });
    }
    if (kinds.size > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvers'],
        message:
          'approvers and promoters mix IAM users and role sessions: one person may hold one of each, so two approvals could be one person; use one kind',
      });
    }
  });

export type DutiesConfig = z.output<typeof dutiesSchema>;

/** A caller whose identity AWS verified (function URL with AWS_IAM auth), or the local stand-in. */
export interface VerifiedCaller {
  /** `requestContext.authorizer.iam.userArn`. */
  readonly arn: string;
  readonly accountId: string | null;
  /** `requestContext.authorizer.iam.callerId` (for an assumed role: `<role id>:<session>`). */
  readonly callerId: string | null;
}

/** Who asked for a release, and whether AWS verified it (`tps-deploy start` through the endpoint). */
export interface Requester {
  readonly principal: string;
  readonly verified: boolean;
}

interface ParsedArn {
  readonly partition: string;
  readonly service: string;
  readonly account: string;
  readonly resource: string;
}

function parseArn(arn: string): ParsedArn | null {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return null;
  return {
    partition: parts[1]!,
    service: parts[2]!,
    account: parts[4]!,
    resource: parts.slice(5).join(':'),
  };
}

/** `*` matches any characters (as in IAM policies); everything else literally. */
function glob(pattern: string, value: string): boolean {
  const re = pattern
    .split('*')
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${re}$`).test(value);
}

/** The role name and session of an assumed-role ARN, or null. */
function assumedRole(arn: ParsedArn): { role: string; session: string } | null {
  if (arn.service !== 'sts') return null;
  const m = /^assumed-role\/([^/]+)\/(.+)$/.exec(arn.resource);
  return m ? { role: m[1]!, session: m[2]! } : null;
}

/** Whether the caller ARN `caller` is the principal `pattern` names (rule 4). */
export function principalMatches(pattern: string, caller: string): boolean {
  const p = parseArn(pattern);
  const c = parseArn(caller);
  if (!p || !c || !PRINCIPAL_PATTERN.test(pattern)) return false;
  if (p.partition !== c.partition || p.account !== c.account) return false;
  if (p.service === 'iam' && p.resource.startsWith('role/')) {
    const session = assumedRole(c);
    if (!session) return false;
    const roleName = p.resource.split('/').at(-1)!;
    return glob(roleName, session.role);
  }
  if (p.service === 'iam' && p.resource.startsWith('user/')) {
    return c.service === 'iam' && glob(p.resource, c.resource);
  }
  return c.service === 'sts' && glob(p.resource, c.resource);
}

/** Whether AWS, or the role's trust policy, fixes the session name of `session`'s role (rule 5). */
function personalSession(
  arn: ParsedArn,
  session: { role: string },
  personalRoles: readonly string[],
): boolean {
  if (session.role.startsWith('AWSReservedSSO_')) return true;
  const asArn = `arn:${arn.partition}:sts::${arn.account}:assumed-role/${session.role}/x`;
  return personalRoles.some((p) => principalMatches(p, asArn));
}

/**
 * Whether two verified ARNs may be the same person (rules 3 and 5): the same ARN; two sessions with
 * the same session name in one account; two sessions of one role whose session names the caller
 * chooses.
 */
export function samePerson(a: string, b: string, personalRoles: readonly string[] = []): boolean {
  if (a === b) return true;
  const pa = parseArn(a);
  const pb = parseArn(b);
  if (!pa || !pb || pa.partition !== pb.partition || pa.account !== pb.account) return false;
  const sa = assumedRole(pa);
  const sb = assumedRole(pb);
  if (sa === null || sb === null) return false;
  if (sa.session === sb.session) return true;
  return sa.role === sb.role && !personalSession(pa, sa, personalRoles);
}

/** Whether a role name (or a pattern of one) is personal: Identity Center's, or declared (rule 5). */
function personalRoleName(
  partition: string,
  account: string,
  role: string,
  personalRoles: readonly string[],
): boolean {
  if (role.startsWith('AWSReservedSSO_')) return true;
  return personalRoles.some((p) => {
    const e = parseArn(p);
    if (!e || e.partition !== partition || e.account !== account || !e.resource.startsWith('role/'))
      return false;
    const name = e.resource.split('/').at(-1)!;
    return name === role || (!role.includes('*') && glob(name, role));
  });
}

/** The kind of person a catalog pattern names (rule 4), or null when it names no one person. */
function patternKind(pattern: string, personalRoles: readonly string[]): 'user' | 'session' | null {
  const a = parseArn(pattern);
  if (!a) return null;
  if (a.service === 'iam' && a.resource.startsWith('user/')) return 'user';
  const role =
    a.service === 'iam' && a.resource.startsWith('role/')
      ? a.resource.split('/').at(-1)!
      : (assumedRole(a)?.role ?? null);
  return role !== null && personalRoleName(a.partition, a.account, role, personalRoles) ? 'session' : null;
}

/** One person, as a verified ARN identifies them (rule 5), or null when it does not. */
export interface Person {
  readonly kind: 'user' | 'session';
  /** Equal for the same person: the account and the user name, or the account and session name. */
  readonly key: string;
}

/** The person a verified ARN is, or null when its session name is the caller's choice (rule 5). */
export function personOf(arn: string, personalRoles: readonly string[] = []): Person | null {
  const a = parseArn(arn);
  if (!a) return null;
  if (a.service === 'iam' && a.resource.startsWith('user/')) {
    return { kind: 'user', key: `${a.partition}:${a.account}:${a.resource}` };
  }
  const s = assumedRole(a);
  if (!s || !personalRoleName(a.partition, a.account, s.role, personalRoles)) return null;
  return { kind: 'session', key: `${a.partition}:${a.account}:session/${s.session}` };
}

/** The principals allowed to take `action` on a service (rule 2). */
export function allowedPrincipals(duties: DutiesConfig | undefined, action: AnswerAction): readonly string[] {
  if (!duties) return [];
  if (action === 'promote') return duties.promoters ?? duties.approvers;
  if (action === 'abort') return duties.aborters ?? duties.approvers;
  return duties.approvers;
}

/** What the release waits for, as the record says. */
export type Waiting = { readonly kind: 'approval' } | { readonly kind: 'hold'; readonly phase: string };

/** The decision on one answer: go on (with what to send) or refuse (with why). */
export type AnswerDecision =
  | {
      readonly allowed: true;
      readonly yes: boolean;
      /**
       * Whether this answer ends the wait (it is sent to the state machine). False for a yes that
       * still needs other people (rule 4): it is recorded and the release keeps waiting.
       */
      readonly deliver: boolean;
      /** The different people who said yes to this wait, this answer included, and how many it needs. */
      readonly approvals: { readonly given: number; readonly needed: number };
    }
  | { readonly allowed: false; readonly reason: string };

/**
 * Decides whether `caller` may take `action` on a release of `service` that waits for `waiting`
 * (rules 1 to 5). `earlier` are the principals who already said yes to this same wait without
 * ending it (rule 4). Pure: the step reads the record and the catalog and acts on the decision.
 */
export function decideAnswer(args: {
  readonly service: string;
  readonly duties: DutiesConfig | undefined;
  readonly action: AnswerAction;
  readonly caller: VerifiedCaller;
  readonly requester: Requester | null;
  readonly waiting: Waiting;
  readonly earlier?: readonly string[];
}): AnswerDecision {
  const { action, caller, waiting } = args;
  const forHold = action === 'promote' || action === 'abort';
  if (forHold && waiting.kind !== 'hold') {
    return { allowed: false, reason: `${action} answers a hold; this release waits for its approval` };
  }
  if (!forHold && waiting.kind !== 'approval') {
    return {
      allowed: false,
      reason: `${action} answers an approval; this release is held at ${waiting.kind === 'hold' ? waiting.phase : '?'} (promote or abort)`,
    };
  }
  const allowed = allowedPrincipals(args.duties, action);
  if (allowed.length === 0) {
    return {
      allowed: false,
      reason: `service ${args.service} declares no approvers (catalog services.${args.service}.duties.approvers): nobody may ${action} its releases`,
    };
  }
  if (!allowed.some((p) => principalMatches(p, caller.arn))) {
    const list = action === 'promote' ? 'promoters' : action === 'abort' ? 'aborters' : 'approvers';
    return {
      allowed: false,
      reason: `${caller.arn} is not among the ${list} of ${args.service} (catalog services.${args.service}.duties)`,
    };
  }
  const yes = action === 'approve' || action === 'promote';
  if (!yes) return { allowed: true, yes, deliver: true, approvals: { given: 0, needed: 0 } };
  const personal = args.duties?.personalSessionRoles ?? [];
  const me = personOf(caller.arn, personal);
  if (!me) {
    return {
      allowed: false,
      reason: `${caller.arn} does not identify one person (its session name is the caller's choice), so its ${action} cannot show it is not the requester's`,
    };
  }
  const requester = args.requester;
  if (requester?.verified && samePerson(requester.principal, caller.arn, personal)) {
    return {
      allowed: false,
      reason: `${caller.arn} requested this release and may not ${action} it (separation of duties)`,
    };
  }
  // The requester is identified when AWS verified them and they are a person of the approver's kind.
  const known = requester?.verified ? personOf(requester.principal, personal) : null;
  const identified = known !== null && known.kind === me.kind;
  const needed = identified ? 1 : (args.duties?.unverifiedStartApprovals ?? 2);
  const earlier = args.earlier ?? [];
  const twice = earlier.find(
    (p) => samePerson(p, caller.arn, personal) || personOf(p, personal)?.key === me.key,
  );
  if (twice !== undefined) {
    return {
      allowed: false,
      reason: `${caller.arn} already said yes to this wait${twice === caller.arn ? '' : ` (as ${twice}, the same person)`}: the requester is not ${requester?.verified ? 'a verified person' : 'verified'}, so ${needed} different people must ${action} it`,
    };
  }
  const people = new Set(earlier.map((p) => personOf(p, personal)?.key).filter((k): k is string => !!k));
  const given = people.size + 1;
  return { allowed: true, yes, deliver: given >= needed, approvals: { given, needed } };
}

/** Whether `caller` may start a release of a service through the verified endpoint (rule 2). */
export function decideStart(
  service: string,
  duties: DutiesConfig | undefined,
  caller: VerifiedCaller,
): { readonly allowed: true } | { readonly allowed: false; readonly reason: string } {
  const starters = duties?.starters;
  if (!starters || starters.some((p) => principalMatches(p, caller.arn))) return { allowed: true };
  return {
    allowed: false,
    reason: `${caller.arn} is not among the starters of ${service} (catalog services.${service}.duties.starters)`,
  };
}

/**
 * What a person asks of a release besides answering it (functions/release/steer.ts), through the
 * same endpoint: `hold` asks a running release to hold after its next passing window,
 * `withdraw` withdraws a hold not yet reached, `stop` aborts a running release (StopExecution; the
 * execution-stopped function rolls it back), `rollback` takes the service's latest release back,
 * `unlock` frees a lock an ended release left behind.
 *
 * Rules (tested in test/unit/duties.test.ts):
 * 5. `stop`, `rollback` and `unlock` need a principal in `aborters` (default `approvers`):
 *    whoever may pull a release back. `hold` and `withdraw` need one in `promoters` or
 *    `approvers`: whoever decides whether a release goes on.
 * 6. The requester of a verified start may hold, stop or roll back their own release, never
 *    withdraw a hold on it (that lets it go on, as a promote does).
 */
export const STEER_ACTIONS = ['hold', 'withdraw', 'stop', 'rollback', 'unlock'] as const;
export type SteerAction = (typeof STEER_ACTIONS)[number];

/** The principals allowed to take steer `action` on a service (rule 5), and the list's name. */
export function steerPrincipals(
  duties: DutiesConfig | undefined,
  action: SteerAction,
): { readonly list: string; readonly principals: readonly string[] } {
  if (!duties) return { list: 'approvers', principals: [] };
  if (action === 'hold' || action === 'withdraw') {
    return {
      list: 'promoters or approvers',
      principals: [...new Set([...(duties.promoters ?? []), ...duties.approvers])],
    };
  }
  return { list: 'aborters', principals: duties.aborters ?? duties.approvers };
}

/** Decides whether `caller` may take steer `action` on a service's release (rules 5 and 6). */
export function decideSteer(args: {
  readonly service: string;
  readonly duties: DutiesConfig | undefined;
  readonly action: SteerAction;
  readonly caller: VerifiedCaller;
  readonly requester: Requester | null;
  /** For `withdraw`: who placed the hold (its `requestedBy`). */
  readonly holder?: string | null;
}): { readonly allowed: true } | { readonly allowed: false; readonly reason: string } {
  const { service, action, caller } = args;
  const { list, principals } = steerPrincipals(args.duties, action);
  if (principals.length === 0) {
    return {
      allowed: false,
      reason: `service ${service} declares no approvers (catalog services.${service}.duties.approvers): nobody may ${action} its releases`,
    };
  }
  if (!principals.some((p) => principalMatches(p, caller.arn))) {
    return {
      allowed: false,
      reason: `${caller.arn} is not among the ${list} of ${service} (catalog services.${service}.duties): may not ${action}`,
    };
  }
  if (action === 'withdraw') {
    const personal = args.duties?.personalSessionRoles ?? [];
    // Taking back one's own hold only undoes one's own action.
    if (args.holder && samePerson(args.holder, caller.arn, personal)) return { allowed: true };
    if (args.requester?.verified && samePerson(args.requester.principal, caller.arn, personal)) {
      return {
        allowed: false,
        reason: `${caller.arn} requested this release and may not withdraw its hold (separation of duties)`,
      };
    }
    const known = args.requester?.verified ? personOf(args.requester.principal, personal) : null;
    const me = personOf(caller.arn, personal);
    if (!known || !me || known.kind !== me.kind) {
      return {
        allowed: false,
        reason: `the requester of this release is not a verified person, so ${caller.arn} could be them: only ${args.holder ?? 'whoever placed the hold'} may withdraw it; once the release holds, a promote needs the approvals a yes needs`,
      };
    }
  }
  return { allowed: true };
}
