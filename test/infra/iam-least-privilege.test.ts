/**
 * Requirement "IAM: least privilege, no wildcard resource where AWS allows a narrower one; every
 * cdk-nag acknowledgement has a written reason", checked on the synthesized template. That each
 * function's role allows exactly what its code calls is test/infra/task-permissions.test.ts.
 *
 * Every policy document of the template (identity policies, inline role policies, managed
 * policies, key policies, resource policies) is read statement by statement:
 *  (a) `Resource: "*"` only when EVERY action of the statement is in RESOURCE_STAR_ACTIONS, i.e.
 *      the Service Authorization Reference lists no resource type that the call could name;
 *  (b) no service wildcard (`dynamodb:*`, `*`) and no partial wildcard (`kms:ReEncrypt*`) in an
 *      Allow unless it is in ACTION_WILDCARDS, with its reason;
 *  (c) every ARN pattern with a wildcard (and every log group `Arn`, which CloudFormation returns
 *      as `...:log-group:<name>:*`) matches WILDCARD_RESOURCES, with only that entry's actions;
 *  (d) every cdk-nag acknowledgement has a reason of at least 20 characters and still matches a
 *      finding (a stale acknowledgement would silently cover a future wildcard).
 * The checkers are also run on planted bad statements, so a regression in them fails here too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { IConstruct } from 'constructs';
import { ENDPOINT_AWS_CALLS, TASK_AWS_CALLS } from '../../functions/contract/permissions.js';
import { TASK_KEYS } from '../../functions/contract/tasks.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { acknowledgeNag } from '../../infra/nag.js';
import { stateMachineName } from '../../infra/names.js';
import sample from '../../tps.config.js';
import { catalogWithDatabases } from '../helpers/catalogs.js';
import { type CfnTemplate, synthStack } from '../helpers/synth.js';

// ---- the allow-lists ------------------------------------------------------------------------------

const SAR = 'https://docs.aws.amazon.com/service-authorization/latest/reference';

/**
 * Actions allowed on `Resource: "*"`. The reason is the Service Authorization Reference's: its
 * "Resource types" column is empty for the action (no resource-level permissions), so "*" is the
 * only valid resource. Checked in Nov 2026 against the reference's data (as mirrored in
 * iann0036/iam-dataset, aws/iam_definition.json).
 */
const RESOURCE_STAR_ACTIONS: Readonly<Record<string, string>> = {
  'xray:PutTraceSegments': `no resource-level permissions: Resource types column empty (${SAR}/list_awsx-ray.html); added by Lambda active tracing and Step Functions tracing`,
  'xray:PutTelemetryRecords': `no resource-level permissions: Resource types column empty (${SAR}/list_awsx-ray.html); added by tracing`,
  'xray:GetSamplingRules': `no resource-level permissions: Resource types column empty (${SAR}/list_awsx-ray.html); added by Step Functions tracing`,
  'xray:GetSamplingTargets': `no resource-level permissions: Resource types column empty (${SAR}/list_awsx-ray.html); added by Step Functions tracing`,
  'cloudwatch:GetMetricData': `no resource-level permissions for classic metric queries: the only resource type listed is the optional "dataset" (OTLP metrics queried with PromQL); the MetricStat queries of functions/adapters/aws/cloudwatch-metrics.ts name no resource (${SAR}/list_amazoncloudwatch.html)`,
  'logs:CreateLogDelivery': `no resource-level permissions: Resource types column empty (${SAR}/list_amazoncloudwatchlogs.html); Step Functions log delivery, as in https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html`,
  'logs:GetLogDelivery': `no resource-level permissions: Resource types column empty (${SAR}/list_amazoncloudwatchlogs.html); Step Functions log delivery`,
  'logs:UpdateLogDelivery': `no resource-level permissions: Resource types column empty (${SAR}/list_amazoncloudwatchlogs.html); Step Functions log delivery`,
  'logs:DeleteLogDelivery': `no resource-level permissions: Resource types column empty (${SAR}/list_amazoncloudwatchlogs.html); Step Functions log delivery`,
  'logs:ListLogDeliveries': `no resource-level permissions: Resource types column empty (${SAR}/list_amazoncloudwatchlogs.html); Step Functions log delivery`,
  'logs:PutResourcePolicy': `no resource-level permissions: Resource types column empty (${SAR}/list_amazoncloudwatchlogs.html); Step Functions log delivery`,
  'logs:DescribeResourcePolicies': `no resource-level permissions: Resource types column empty (${SAR}/list_amazoncloudwatchlogs.html); Step Functions log delivery`,
  'logs:DescribeLogGroups': `no resource-level permissions: Resource types column empty (${SAR}/list_amazoncloudwatchlogs.html); Step Functions log delivery`,
};

/**
 * Actions on `Resource: "*"` only with the cluster tasks in a VPC (ReleaseStackProps.network): the
 * network-interface actions Lambda needs of a VPC function's role (VPC_ENI_ACTIONS). Kept apart so
 * the default template's "no dead entries" check stays exact.
 */
const NETWORK_STAR_ACTIONS: Readonly<Record<string, string>> = {
  'ec2:CreateNetworkInterface': `Lambda creates the function's network interfaces with its role; the permission is checked on "*" as in AWSLambdaVPCAccessExecutionRole (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html)`,
  'ec2:DescribeNetworkInterfaces': `no resource-level permissions: Resource types column empty (${SAR}/list_amazonec2.html)`,
  'ec2:DescribeSubnets': `no resource-level permissions: Resource types column empty (${SAR}/list_amazonec2.html)`,
  'ec2:DeleteNetworkInterface': `Lambda deletes the interfaces it created, whose IDs are not known in advance; as in AWSLambdaVPCAccessExecutionRole`,
  'ec2:AssignPrivateIpAddresses': `on the interfaces Lambda created, whose IDs are not known in advance; as in AWSLambdaVPCAccessExecutionRole`,
  'ec2:UnassignPrivateIpAddresses': `on the interfaces Lambda created, whose IDs are not known in advance; as in AWSLambdaVPCAccessExecutionRole`,
};

/** What a statement is, for the rules that depend on it. */
type DocKind = 'identity' | 'key' | 'resource' | 'trust';

interface StatementContext {
  readonly kind: DocKind;
  readonly where: string;
  // biome-ignore lint/suspicious/noExplicitAny: policy statements are free-form JSON
  readonly statement: Record<string, any>;
  readonly template: CfnTemplate;
}

/** Wildcard actions (service-wide or partial) allowed in an Allow statement, and where. */
const ACTION_WILDCARDS: readonly {
  readonly action: string;
  readonly allowedIn: (ctx: StatementContext) => boolean;
  readonly reason: string;
}[] = [
  {
    action: 'kms:*',
    allowedIn: (ctx) =>
      ctx.kind === 'key' &&
      /:iam::(<AWS::AccountId>|\d{12}):root$/.test(render(ctx.statement.Principal?.AWS ?? '')),
    reason:
      'CDK default key policy statement "Enable IAM policies": the account principal may delegate use of this key with IAM policies; in a key policy Resource "*" means this key (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html, key-policy-default.html).',
  },
  ...['kms:GenerateDataKey*', 'kms:ReEncrypt*'].map((action) => ({
    action,
    allowedIn: (ctx: StatementContext) =>
      ctx.kind === 'key' ||
      resourcesOf(ctx.statement).every((r) => refersTo(ctx.template, r, 'AWS::KMS::Key', 'Arn')),
    reason:
      'Data-key families CDK grants for a KMS-encrypted DynamoDB table and SNS topic (Table/Topic grants), only on the one key of this stack; acknowledged in infra/release-stack.ts.',
  })),
];

/** Wildcard ARN patterns allowed in Resource, with the only actions they may carry. */
interface WildcardRule {
  readonly name: string;
  readonly matches: (rendered: string, raw: unknown, template: CfnTemplate) => boolean;
  readonly actions: readonly string[];
  readonly reason: string;
}

const catalog = parseCatalog(sample);
const machineNames = Object.keys(catalog.services).map((s) => stateMachineName(catalog.appName, s));

/** One ARN field: a literal, or a pseudo parameter such as `<AWS::Region>` (which has colons). */
const FIELD = '(?:<AWS::[A-Za-z]+>|[^:<>]+)';
/** `arn:<partition>:<service>:<region>:<account>:` */
const arnPrefix = (service: string) => `^arn:${FIELD}:${service}:${FIELD}:${FIELD}:`;

const WILDCARD_RESOURCES: readonly WildcardRule[] = [
  {
    name: 'executions of the tps-deploy state machines',
    matches: (r) =>
      new RegExp(`${arnPrefix('states')}execution:(${machineNames.map(escapeRe).join('|')}):\\*$`).test(r),
    actions: ['states:StopExecution', 'states:DescribeExecution'],
    reason:
      'Execution ARNs are arn:...:execution:<state machine name>:<execution name>; the execution name is chosen at StartExecution time, so only the machine part can be fixed (https://docs.aws.amazon.com/step-functions/latest/dg/concept-create-iam-advanced.html). StopExecution: the alarm rollback; DescribeExecution: taking over a lock whose holder ended.',
  },
  {
    name: "the task functions' own log groups",
    matches: (_r, raw, template) => refersTo(template, raw, 'AWS::Logs::LogGroup', 'Arn'),
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    reason:
      'Fn::GetAtt LogGroup.Arn is arn:...:log-group:<name>:* (the form the CloudWatch Logs API documents for IAM policies); Lambda names the log streams at run time.',
  },
  {
    name: 'database snapshots named tps-<service>-<deployment id>',
    matches: (r) => new RegExp(`${arnPrefix('rds')}snapshot:tps-[A-Za-z0-9-]+-\\*$`).test(r),
    actions: ['rds:CreateDBSnapshot', 'rds:DescribeDBSnapshots'],
    reason:
      'Snapshot ids are snapshotIdFor(service, deploymentId) (functions/release/migration.ts); the deployment id is chosen at start time.',
  },
  {
    name: 'Aurora cluster snapshots named tps-<service>-<deployment id>',
    matches: (r) => new RegExp(`${arnPrefix('rds')}cluster-snapshot:tps-[A-Za-z0-9-]+-\\*$`).test(r),
    actions: ['rds:CreateDBClusterSnapshot', 'rds:DescribeDBClusterSnapshots'],
    reason:
      'Cluster snapshot ids are snapshotIdFor(service, deploymentId) (functions/release/migration.ts); the deployment id is chosen at start time.',
  },
];

/** Shortest acceptable reason of a cdk-nag acknowledgement (infra/nag.ts enforces the same). */
const MIN_REASON_CHARS = 20;

// ---- the checkers -------------------------------------------------------------------------------

/**
 * A Resource (or Principal) value as text: literals kept, `Ref` as `<Id>`, `Fn::GetAtt` as
 * `<Id.Attr>`, joins joined. The same spelling cdk-nag uses in its findings.
 */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(render).join(',');
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
    if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if (typeof o.Ref === 'string') return `<${o.Ref}>`;
    if (typeof o['Fn::Sub'] === 'string') return (o['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, '<$1>');
  }
  return `<unrecognised ${JSON.stringify(value)}>`;
}

/** Whether a value is `Fn::GetAtt` of a resource of this type and attribute. */
function refersTo(template: CfnTemplate, value: unknown, type: string, attribute: string): boolean {
  const getAtt = (value as Record<string, unknown> | null)?.['Fn::GetAtt'];
  if (!Array.isArray(getAtt)) return false;
  const [id, attr] = getAtt as [string, string];
  return attr === attribute && template.Resources[id]?.Type === type;
}

// biome-ignore lint/suspicious/noExplicitAny: policy statements are free-form JSON
const actionsOf = (s: Record<string, any>): string[] => [s.Action ?? []].flat();
// biome-ignore lint/suspicious/noExplicitAny: policy statements are free-form JSON
const resourcesOf = (s: Record<string, any>): unknown[] => [s.Resource ?? []].flat();

/** Every policy document of the template, with what kind it is. */
function policyDocuments(template: CfnTemplate): {
  where: string;
  kind: DocKind;
  // biome-ignore lint/suspicious/noExplicitAny: policy documents are free-form JSON
  doc: { Statement?: Record<string, any>[] };
}[] {
  // biome-ignore lint/suspicious/noExplicitAny: policy documents are free-form JSON
  const out: { where: string; kind: DocKind; doc: any }[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    const p = r.Properties ?? {};
    const parse = (d: unknown) => (typeof d === 'string' ? JSON.parse(d) : d);
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      out.push({ where: id, kind: 'identity', doc: parse(p.PolicyDocument) });
    } else if (['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'].includes(r.Type)) {
      for (const pol of p.Policies ?? []) {
        out.push({ where: `${id}/${pol.PolicyName}`, kind: 'identity', doc: parse(pol.PolicyDocument) });
      }
      if (p.AssumeRolePolicyDocument) {
        out.push({ where: `${id}/trust`, kind: 'trust', doc: parse(p.AssumeRolePolicyDocument) });
      }
    } else if (r.Type === 'AWS::KMS::Key') {
      out.push({ where: id, kind: 'key', doc: parse(p.KeyPolicy) });
    } else if (p.PolicyDocument !== undefined) {
      out.push({ where: id, kind: 'resource', doc: parse(p.PolicyDocument) });
    }
  }
  return out;
}

/** Every violation of rules (a) to (c) in the template; empty when the template complies. */
function iamViolations(
  template: CfnTemplate,
  starActions: Readonly<Record<string, string>> = RESOURCE_STAR_ACTIONS,
): string[] {
  const problems: string[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    // A policy resource this checker cannot read is a policy nobody reviewed.
    if (/Policy$/.test(r.Type) && r.Properties?.PolicyDocument === undefined) {
      problems.push(`${id}: ${r.Type} without a PolicyDocument this test can read`);
    }
    // AWS managed policies are not in the template: none may be attached unreviewed.
    for (const arn of r.Properties?.ManagedPolicyArns ?? []) {
      const ref = (arn as { Ref?: string }).Ref;
      if (!ref || template.Resources[ref]?.Type !== 'AWS::IAM::ManagedPolicy') {
        problems.push(`${id}: attaches managed policy ${render(arn)} that is not in the template`);
      }
    }
  }
  for (const { where, kind, doc } of policyDocuments(template)) {
    for (const [i, statement] of (doc.Statement ?? []).entries()) {
      const at = `${where} statement ${i}${statement.Sid ? ` (${statement.Sid})` : ''}`;
      const ctx: StatementContext = { kind, where, statement, template };
      if (statement.NotAction !== undefined || statement.NotResource !== undefined) {
        problems.push(`${at}: NotAction/NotResource grants everything not listed`);
        continue;
      }
      // A Deny only takes access away: a wildcard there makes it stricter.
      if (statement.Effect !== 'Allow') continue;
      const actions = actionsOf(statement);
      for (const action of actions.filter((a) => a.includes('*'))) {
        const entry = ACTION_WILDCARDS.find((w) => w.action === action);
        if (!entry?.allowedIn(ctx)) {
          const what = action === '*' || /^[^:]+:\*$/.test(action) ? 'service wildcard' : 'wildcard action';
          problems.push(`${at}: ${what} ${action} is not in ACTION_WILDCARDS for this statement`);
        }
      }
      // Trust policies have no Resource; in a key policy "*" means "this key".
      if (kind === 'trust' || kind === 'key') continue;
      const resources = resourcesOf(statement);
      if (resources.length === 0) problems.push(`${at}: no Resource`);
      if (resources.includes('*')) {
        const narrowable = actions.filter((a) => !Object.hasOwn(starActions, a));
        if (narrowable.length > 0) {
          problems.push(
            `${at}: Resource "*" with ${narrowable.join(', ')}, which AWS allows on a narrower resource (not in RESOURCE_STAR_ACTIONS)`,
          );
        }
      }
      for (const raw of resources.filter((x) => x !== '*')) {
        const rendered = render(raw);
        const wildcard = rendered.includes('*') || refersTo(template, raw, 'AWS::Logs::LogGroup', 'Arn');
        if (rendered.includes('<unrecognised')) problems.push(`${at}: cannot read resource ${rendered}`);
        if (!wildcard) continue;
        const rule = WILDCARD_RESOURCES.find((w) => w.matches(rendered, raw, template));
        if (!rule) {
          problems.push(`${at}: wildcard resource ${rendered} matches no WILDCARD_RESOURCES pattern`);
          continue;
        }
        const extra = actions.filter((a) => !rule.actions.includes(a));
        if (extra.length > 0) {
          problems.push(
            `${at}: ${extra.join(', ')} on ${rendered} (${rule.name} allows ${rule.actions.join(', ')})`,
          );
        }
      }
    }
  }
  return problems;
}

interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
  readonly construct: IConstruct;
}

/** Every cdk-nag acknowledgement recorded on the construct tree (cdk-nag 3, Validations API). */
function acknowledgements(stack: Stack): Acknowledgement[] {
  const out: Acknowledgement[] = [];
  for (const construct of stack.node.root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
        out.push({ path: construct.node.path, id, reason: String(reason ?? ''), construct });
      }
    }
  }
  return out;
}

/** Reasons that are missing or too short to say why ("ok", "n/a"). */
function reasonProblems(acks: readonly { path: string; id: string; reason: string }[]): string[] {
  return acks
    .filter((a) => a.reason.trim().length < MIN_REASON_CHARS)
    .map((a) => `${a.path}: ${a.id} has reason "${a.reason}" (${MIN_REASON_CHARS}+ characters required)`);
}

/** cdk-nag 2 style suppressions in the template metadata (`cdk_nag.rules_to_suppress`). */
function templateSuppressionProblems(template: CfnTemplate): string[] {
  const problems: string[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    const rules = (r.Metadata as { cdk_nag?: { rules_to_suppress?: { id?: string; reason?: string }[] } })
      ?.cdk_nag?.rules_to_suppress;
    for (const rule of rules ?? []) {
      if ((rule.reason ?? '').trim().length < MIN_REASON_CHARS) {
        problems.push(`${id}: suppression ${rule.id} has reason "${rule.reason ?? ''}"`);
      }
    }
  }
  return problems;
}

/**
 * IAM5 acknowledgements that no longer match a finding under their scope: `[Resource::X]` needs
 * an Allow statement with resource X (spelled as cdk-nag spells it), `[Action::A]` one with action A.
 */
function staleAcknowledgements(stack: Stack, template: CfnTemplate): string[] {
  const stale: string[] = [];
  for (const ack of acknowledgements(stack)) {
    const m = /AwsSolutions-IAM5\[(Resource|Action)::(.+)\]$/.exec(ack.id);
    if (!m) continue;
    const [, kind, value] = m as unknown as [string, 'Resource' | 'Action', string];
    const ids = new Set(
      ack.construct.node
        .findAll()
        .filter((c): c is CfnResource => CfnResource.isCfnResource(c))
        .map((c) => stack.resolve(c.logicalId) as string),
    );
    const statements = policyDocuments(template)
      .filter((d) => ids.has(d.where.split('/')[0]!))
      .flatMap((d) => d.doc.Statement ?? [])
      .filter((s) => s.Effect === 'Allow');
    const found = statements.some((s) =>
      kind === 'Action' ? actionsOf(s).includes(value) : resourcesOf(s).some((r) => render(r) === value),
    );
    if (!found) stale.push(`${ack.path}: ${ack.id} matches no statement any more`);
  }
  return stale;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---- the synthesized templates ------------------------------------------------------------------

let stack: Stack;
let json: CfnTemplate;
let withDatabases: { stack: Stack; json: CfnTemplate };

beforeAll(() => {
  const synth = synthStack();
  stack = synth.stack;
  json = synth.template.toJSON() as CfnTemplate;
  const db = synthStack({ catalog: catalogWithDatabases });
  withDatabases = { stack: db.stack, json: db.template.toJSON() as CfnTemplate };
});

describe('IAM least privilege on the synthesized template', () => {
  test('the checker reads every IAM and resource policy of the template', () => {
    const docs = policyDocuments(json);
    const types = new Set(docs.map((d) => json.Resources[d.where.split('/')[0]!]!.Type));
    expect([...types].sort()).toEqual([
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::KMS::Key',
      'AWS::SNS::TopicPolicy',
      'AWS::SQS::QueuePolicy',
    ]);
    expect(docs.flatMap((d) => d.doc.Statement ?? []).length).toBeGreaterThan(20);
  });

  test.each([
    ['the sample catalog', () => json],
    ['a catalog with databases (RDS snapshot permissions)', () => withDatabases.json],
  ])('%s: no Resource "*", wildcard action or wildcard ARN outside the allow-lists', (_name, get) => {
    expect(iamViolations(get())).toEqual([]);
  });

  test('the cluster tasks in a VPC: only the ENI actions are added on "*", and they are all used', () => {
    const network = synthStack({
      network: (app) => ({
        endpointAccess: 'private',
        vpc: ec2.Vpc.fromVpcAttributes(new Stack(app, 'ClusterNetwork'), 'Vpc', {
          vpcId: 'vpc-0ddd0000000000001',
          availabilityZones: ['us-east-1a', 'us-east-1b'],
          isolatedSubnetIds: ['subnet-0bbb0000000000001', 'subnet-0bbb0000000000002'],
          isolatedSubnetRouteTableIds: ['rtb-0bbb1', 'rtb-0bbb2'],
        }),
      }),
    }).template.toJSON() as CfnTemplate;
    expect(iamViolations(network)).not.toEqual([]);
    expect(iamViolations(network, { ...RESOURCE_STAR_ACTIONS, ...NETWORK_STAR_ACTIONS })).toEqual([]);
    const onStar = new Set(
      policyDocuments(network)
        .filter((d) => d.kind === 'identity')
        .flatMap((d) => d.doc.Statement ?? [])
        .filter((s) => resourcesOf(s).includes('*'))
        .flatMap(actionsOf),
    );
    expect([...onStar].sort()).toEqual(
      [...Object.keys(RESOURCE_STAR_ACTIONS), ...Object.keys(NETWORK_STAR_ACTIONS)].sort(),
    );
  });

  test('every action kept on Resource "*" is actually used on "*" (the allow-list has no dead entries)', () => {
    const onStar = new Set(
      policyDocuments(json)
        .filter((d) => d.kind === 'identity')
        .flatMap((d) => d.doc.Statement ?? [])
        .filter((s) => resourcesOf(s).includes('*'))
        .flatMap(actionsOf),
    );
    expect([...onStar].sort()).toEqual(Object.keys(RESOURCE_STAR_ACTIONS).sort());
  });

  test('the state machines invoke the unqualified function ARNs only (no <arn>:* for versions and aliases)', () => {
    const invokes = policyDocuments(json)
      .flatMap((d) => d.doc.Statement ?? [])
      .filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    expect(invokes.length).toBeGreaterThan(0);
    for (const s of invokes) {
      for (const r of resourcesOf(s)) expect(refersTo(json, r, 'AWS::Lambda::Function', 'Arn')).toBe(true);
    }
  });

  test('the functions may stop and describe executions of the tps-deploy state machines and nothing else on Step Functions', () => {
    // The answer endpoint's own role answers waiting tasks (test/infra/release-stack.test.ts, "answer endpoint").
    const states = policyDocuments(json)
      .filter((d) => !d.where.startsWith('AnswerRole'))
      .flatMap((d) => d.doc.Statement ?? [])
      .flatMap(actionsOf)
      .filter((a) => a.startsWith('states:'));
    expect([...new Set(states)].sort()).toEqual(['states:DescribeExecution', 'states:StopExecution']);
    expect(states.filter((a) => a.startsWith('states:SendTask'))).toEqual([]);
  });
});

describe('the checker catches planted violations', () => {
  /** The real template with one more statement in a function role's policy. */
  function planted(statement: Record<string, unknown>): CfnTemplate {
    const copy = structuredClone(json) as CfnTemplate;
    const id = Object.keys(copy.Resources).find(
      (k) =>
        copy.Resources[k]!.Type === 'AWS::IAM::Policy' && k.startsWith('TasksValidateInputRoleDefaultPolicy'),
    )!;
    copy.Resources[id]!.Properties!.PolicyDocument.Statement.push({ Effect: 'Allow', ...statement });
    return copy;
  }
  const table = { 'Fn::GetAtt': ['DeploymentsTableDD4203FA', 'Arn'] };

  test.each<[string, Record<string, unknown>, RegExp]>([
    [
      'dynamodb:PutItem on Resource "*"',
      { Action: 'dynamodb:PutItem', Resource: '*' },
      /Resource "\*" with dynamodb:PutItem/,
    ],
    [
      'an allowed action next to a narrowable one on "*"',
      { Action: ['xray:PutTraceSegments', 'dynamodb:PutItem'], Resource: '*' },
      /Resource "\*" with dynamodb:PutItem/,
    ],
    ['a service wildcard action', { Action: 'dynamodb:*', Resource: table }, /service wildcard dynamodb:\*/],
    ['the all-actions wildcard', { Action: '*', Resource: table }, /service wildcard \*/],
    [
      'a partial wildcard action',
      { Action: 'dynamodb:Get*', Resource: table },
      /wildcard action dynamodb:Get\*/,
    ],
    [
      'kms:ReEncrypt* on a key other than the stack key',
      {
        Action: 'kms:ReEncrypt*',
        Resource: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      },
      /wildcard action kms:ReEncrypt\*/,
    ],
    [
      'a wildcard ARN that no pattern allows',
      { Action: 's3:GetObject', Resource: 'arn:aws:s3:::some-bucket/*' },
      /wildcard resource arn:aws:s3:::some-bucket\/\* matches no/,
    ],
    [
      'an index wildcard on the table',
      { Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [table, '/index/*']] } },
      /wildcard resource <DeploymentsTableDD4203FA.Arn>\/index\/\* matches no/,
    ],
    [
      'an allowed pattern with an action it does not allow',
      {
        Action: 'states:GetExecutionHistory',
        Resource: `arn:aws:states:us-east-1:123456789012:execution:${machineNames[0]}:*`,
      },
      /states:GetExecutionHistory on .* allows states:StopExecution, states:DescribeExecution/,
    ],
    ['NotAction', { NotAction: 'iam:*', Resource: '*' }, /NotAction\/NotResource/],
  ])('%s', (_name, statement, expected) => {
    const problems = iamViolations(planted(statement));
    expect(problems).toEqual([expect.stringMatching(expected)]);
  });

  test('a Deny with wildcards is not a violation (it only takes access away)', () => {
    expect(iamViolations(planted({ Effect: 'Deny', Action: 's3:*', Resource: '*' }))).toEqual([]);
  });

  test('xray:PutTraceSegments alone on "*" is not a violation', () => {
    expect(iamViolations(planted({ Action: 'xray:PutTraceSegments', Resource: '*' }))).toEqual([]);
  });

  test('an AWS managed policy attached to a role is reported', () => {
    const copy = structuredClone(json) as CfnTemplate;
    const role = Object.keys(copy.Resources).find(
      (k) => copy.Resources[k]!.Type === 'AWS::IAM::Role' && k.startsWith('TasksValidateInputRole'),
    )!;
    copy.Resources[role]!.Properties!.ManagedPolicyArns = [
      'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
    ];
    expect(iamViolations(copy)).toEqual([
      expect.stringMatching(/attaches managed policy .*AWSLambdaBasicExecutionRole/),
    ]);
  });

  test('a log group policy written as a string is read too', () => {
    const copy = structuredClone(json) as CfnTemplate;
    (copy.Resources as Record<string, unknown>).Planted = {
      Type: 'AWS::Logs::ResourcePolicy',
      Properties: {
        PolicyName: 'p',
        PolicyDocument: JSON.stringify({
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'x.amazonaws.com' }, Action: 'logs:*', Resource: '*' },
          ],
        }),
      },
    };
    expect(iamViolations(copy)).toEqual([
      expect.stringMatching(/service wildcard logs:\*/),
      expect.stringMatching(/Resource "\*" with logs:\*/),
    ]);
  });
});

describe('cdk-nag acknowledgements', () => {
  test('there are acknowledgements to check, each on an AwsSolutions rule', () => {
    const acks = acknowledgements(stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const a of acks) expect(a.id).toMatch(/^(Annotation::)?AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
  });

  test.each([
    ['the sample catalog', () => stack],
    ['a catalog with databases', () => withDatabases.stack],
  ])('%s: every acknowledgement has a written reason', (_name, get) => {
    expect(reasonProblems(acknowledgements(get()))).toEqual([]);
  });

  test.each([
    ['the sample catalog', () => ({ s: stack, t: json })],
    ['a catalog with databases', () => ({ s: withDatabases.stack, t: withDatabases.json })],
  ])('%s: no IAM5 acknowledgement is stale', (_name, get) => {
    const { s, t } = get();
    expect(staleAcknowledgements(s, t)).toEqual([]);
  });

  test('no cdk-nag 2 style suppression in the template lacks a reason', () => {
    expect(templateSuppressionProblems(json)).toEqual([]);
  });

  test('infra/ acknowledges only through acknowledgeNag (which refuses an empty reason), never NagSuppressions', () => {
    const infra = resolve(import.meta.dirname, '..', '..', 'infra');
    const files = (readdirSync(infra, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(infra, f));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect({ file: relative(infra, file), nagSuppressions: /NagSuppressions/.test(text) }).toEqual({
        file: relative(infra, file),
        nagSuppressions: false,
      });
      if (relative(infra, file) !== 'nag.ts') {
        expect({ file: relative(infra, file), direct: /\.acknowledge\(/.test(text) }).toEqual({
          file: relative(infra, file),
          direct: false,
        });
      }
    }
    expect(() => acknowledgeNag(stack, 'AwsSolutions-IAM5', 'Resource::*', 'ok')).toThrow(/must say why/);
  });

  test('the reason checkers catch planted short reasons', () => {
    expect(reasonProblems([{ path: 'X', id: 'AwsSolutions-IAM5[Resource::*]', reason: ' n/a ' }])).toEqual([
      expect.stringMatching(/X: AwsSolutions-IAM5\[Resource::\*\] has reason/),
    ]);
    const copy = structuredClone(json) as CfnTemplate;
    const first = Object.keys(copy.Resources)[0]!;
    (copy.Resources[first] as { Metadata?: unknown }).Metadata = {
      cdk_nag: { rules_to_suppress: [{ id: 'AwsSolutions-IAM5', reason: 'fine' }] },
    };
    expect(templateSuppressionProblems(copy)).toEqual([
      expect.stringMatching(/AwsSolutions-IAM5 has reason "fine"/),
    ]);
  });

  test('a stale acknowledgement is reported', () => {
    const copy = structuredClone(json) as CfnTemplate;
    // Drop the execution wildcard the roles of the tasks that stop or describe executions are
    // acknowledged for: each of their acknowledgements goes stale.
    for (const r of Object.values(copy.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const doc = r.Properties!.PolicyDocument;
      doc.Statement = doc.Statement.filter((s: { Sid?: string }) => s.Sid !== 'ReleaseExecutions');
    }
    // The answer endpoint stops and describes executions too (abort, unlock: ENDPOINT_AWS_CALLS).
    const holders = [
      ...TASK_KEYS.filter((t) => TASK_AWS_CALLS[t].some((c) => c.startsWith('Executions.'))),
      ...(ENDPOINT_AWS_CALLS.some((c) => c.startsWith('Executions.')) ? ['answerEndpoint'] : []),
    ];
    expect(holders.length).toBeGreaterThan(1);
    const stale = staleAcknowledgements(stack, copy);
    expect(stale).toHaveLength(holders.length * machineNames.length);
    for (const m of machineNames) {
      expect(
        stale.filter((x) => new RegExp(`execution:${escapeRe(m)}:\\*\\] matches no`).test(x)),
      ).toHaveLength(holders.length);
    }
  });
});
