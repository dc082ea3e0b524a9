/**
 * The ReleaseRunbook construct (infra/release-runbook.ts) in a stack of its own app, as a CDK user
 * would use it: props checked first (every bad catalog field named, nothing built), one runbook per
 * stack, the one `TpsDeployRunbook` output the CLI reads (parsed with parseRunbookOutput from a
 * value resolved as DescribeStacks would return it), bring-your-own topic and key, and the grant
 * methods with their exact actions and resources.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { parseRunbookOutput, RUNBOOK_OUTPUT_KEY } from '../../functions/contract/runbook-output.js';
import { CLUSTER_TASKS, TASK_KEYS, TASKS } from '../../functions/contract/tasks.js';
import { type CatalogInput, parseCatalog } from '../../functions/domain/config.js';
import { ANSWER_ENTRY } from '../../infra/constructs/answer-endpoint.js';
import { prebuiltEntryName } from '../../infra/constructs/function-code.js';
import { ReleaseRunbook } from '../../infra/release-runbook.js';
import sample from '../../tps.config.js';
import { resolveOutputValue } from '../helpers/describe-stacks.js';

const ENV = { account: '123456789012', region: 'us-east-1' };
const ACCOUNT_PREFIX = `arn:aws:states:${ENV.region}:${ENV.account}`;

function newStack(id = 'Shop') {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, id, { env: ENV });
}

// biome-ignore lint/suspicious/noExplicitAny: IAM policy documents are free-form JSON
type Statement = { Effect: string; Action: string | string[]; Resource: any; Condition?: any };

/** The statements of the policies attached to the role with this logical ID. */
function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleLogicalId}"`))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** Each statement as `action -> resources` pairs, resolved to strings with the stack's own names. */
function pairs(template: Template, roleLogicalId: string): string[] {
  const statements = statementsOf(template, roleLogicalId);
  const at = { stackName: 'Shop', region: ENV.region, template: template.toJSON() };
  const text = (v: unknown) => resolveOutputValue(v, at);
  return statements
    .flatMap((s) =>
      [s.Action]
        .flat()
        .flatMap((a) =>
          [s.Resource]
            .flat()
            .map((r) => `${a} ${text(r)}${s.Condition ? ` if ${JSON.stringify(s.Condition)}` : ''}`),
        ),
    )
    .sort();
}

describe('props are checked first', () => {
  test('a bad catalog names every bad field with its value, and nothing is built', () => {
    const stack = newStack();
    const bad = structuredClone(sample) as unknown as {
      appName: string;
      services: Record<string, Record<string, unknown>>;
    };
    bad.appName = '9lives';
    bad.services.api!.namespace = 'Not_A_Label';
    bad.services.web!.slo = { p99Ms: -1 };
    delete bad.services.web!.deployment;
    let message = '';
    try {
      new ReleaseRunbook(stack, 'Runbook', { catalog: bad as unknown as CatalogInput });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^ReleaseRunbook "Runbook": 4 problems in the props; nothing was built:/);
    expect(message).toContain('catalog.appName is "9lives"');
    expect(message).toContain(
      'catalog.services.api.namespace is "Not_A_Label": must be a lowercase RFC 1123 label',
    );
    expect(message).toContain('catalog.services.web.slo.p99Ms is -1');
    expect(message).toContain('catalog.services.web.deployment is missing');
    expect(message).toContain('Fix the catalog fields named');
    expect(stack.node.children).toHaveLength(0);
    expect(Template.fromStack(stack).toJSON().Resources ?? {}).toEqual({});
  });

  test('catalog and network problems are reported together', () => {
    const stack = newStack();
    expect(
      () =>
        new ReleaseRunbook(stack, 'Runbook', {
          catalog: { ...sample, appName: '' },
          network: { endpointAccess: 'private' },
        }),
    ).toThrow(
      /2 problems[\s\S]*catalog\.appName is ""[\s\S]*network\.vpc is missing, but network\.endpointAccess is "private"/,
    );
  });

  test('a second runbook in the same stack is refused, naming the first', () => {
    const stack = newStack();
    new ReleaseRunbook(stack, 'Runbook', { catalog: sample });
    expect(() => new ReleaseRunbook(stack, 'Other', { catalog: { ...sample, appName: 'other' } })).toThrow(
      /stack Shop already has a ReleaseRunbook \(Shop\/Runbook\); a stack holds one, since it writes the one TpsDeployRunbook output/,
    );
  });

  test('an unknown code source is named with the fix', () => {
    expect(
      () =>
        new ReleaseRunbook(newStack(), 'Runbook', {
          catalog: sample,
          code: { kind: 'prebuilt', dir: '/nowhere' },
        }),
    ).toThrow(/code: the prebuilt function bundles are not at "\/nowhere".*npm run build:package/);
  });
});

describe('in a stack of its own', () => {
  const stack = newStack();
  const runbook = new ReleaseRunbook(stack, 'Runbook', { catalog: sample });
  const template = Template.fromStack(stack);
  const json = template.toJSON();

  test('the one TpsDeployRunbook output parses with parseRunbookOutput, with what the stack built', () => {
    expect(Object.keys(json.Outputs)).toContain(RUNBOOK_OUTPUT_KEY);
    const value = resolveOutputValue(json.Outputs[RUNBOOK_OUTPUT_KEY].Value, {
      stackName: 'Shop',
      region: ENV.region,
      template: json,
    });
    const output = parseRunbookOutput(value);
    expect(output.schema).toBe(1);
    expect(output.appName).toBe('tps-deploy');
    expect(output.region).toBe(ENV.region);
    expect(output.tableName).toBe('tps-deploy-deployments');
    expect(Object.keys(output.stateMachines).sort()).toEqual(['api', 'web']);
    expect(output.stateMachines.api).toBe(`${ACCOUNT_PREFIX}:stateMachine:tps-deploy-api`);
    expect(output.dashboards).toEqual({ api: 'tps-deploy-api', web: 'tps-deploy-web' });
    expect(output.clusterAccess.map((c) => c.task)).toEqual([...CLUSTER_TASKS]);
    expect(output.clusterAccess[0]!.kubernetesGroups[0]).toMatch(/^tps-deploy-tps-deploy-(read|write)$/);
    expect(output.network).toEqual({ endpointAccess: 'public', securityGroupIds: [], subnetIds: [] });
    expect(output.catalog).toEqual(JSON.parse(JSON.stringify(parseCatalog(sample))));
    expect(output.answerUrl).toMatch(/FunctionUrl/);
  });

  test('the existing outputs are there too, under the construct path', () => {
    const ids = Object.keys(json.Outputs);
    for (const name of ['AnswerUrl', 'TableName', 'TopicArn', 'ApiStateMachineArn', 'WebStateMachineArn']) {
      expect(ids.some((id) => id.startsWith(`Runbook${name}`))).toBe(true);
    }
  });

  test('the state machines keep their names; the public fields are there', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'tps-deploy-api',
    });
    expect(Object.keys(runbook.pipelines).sort()).toEqual(['api', 'web']);
    expect(runbook.catalog.appName).toBe('tps-deploy');
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.resourceCountIs('AWS::SNS::Topic', 1);
  });
});

describe('bring your own topic and key', () => {
  test('neither is created; the publishing roles get the topic key, the table uses the given key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'TeamKey', { enableKeyRotation: true });
    const topicKey = new kms.Key(stack, 'TopicKey', { enableKeyRotation: true });
    const topic = new sns.Topic(stack, 'TeamTopic', { masterKey: topicKey, enforceSSL: true });
    new ReleaseRunbook(stack, 'Runbook', { catalog: sample, topic, encryptionKey: key });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 2);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const table = Object.values(template.findResources('AWS::DynamoDB::Table'))[0]!;
    expect(JSON.stringify(table.Properties.SSESpecification)).toContain(
      stack.getLogicalId(key.node.defaultChild as kms.CfnKey),
    );
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(stack.getLogicalId(topicKey.node.defaultChild as kms.CfnKey));
    const env = JSON.stringify(template.findResources('AWS::Lambda::Function'));
    expect(env).toContain(stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic));
  });
});

describe('grants', () => {
  function setUp() {
    const stack = newStack();
    const runbook = new ReleaseRunbook(stack, 'Runbook', { catalog: sample });
    const role = new iam.Role(stack, 'Grantee', { assumedBy: new iam.AccountRootPrincipal() });
    return { stack, runbook, role, roleId: stack.getLogicalId(role.node.defaultChild as iam.CfnRole) };
  }
  const sm = (service: string) => `${ACCOUNT_PREFIX}:stateMachine:tps-deploy-${service}`;
  const executions = (service: string) => `${ACCOUNT_PREFIX}:execution:tps-deploy-${service}:*`;

  test('grantStartRelease(service): StartExecution on its state machine, DescribeExecution on its executions, nothing else', () => {
    const { stack, runbook, role, roleId } = setUp();
    runbook.grantStartRelease(role, 'api');
    expect(pairs(Template.fromStack(stack), roleId)).toEqual([
      `states:DescribeExecution ${executions('api')}`,
      `states:StartExecution ${sm('api')}`,
    ]);
  });

  test('grantStartRelease(): every service', () => {
    const { stack, runbook, role, roleId } = setUp();
    runbook.grantStartRelease(role);
    expect(pairs(Template.fromStack(stack), roleId)).toEqual([
      `states:DescribeExecution ${executions('api')}`,
      `states:DescribeExecution ${executions('web')}`,
      `states:StartExecution ${sm('api')}`,
      `states:StartExecution ${sm('web')}`,
    ]);
  });

  test('grantStartRelease of a service not in the catalog names the services', () => {
    const { runbook, role } = setUp();
    expect(() => runbook.grantStartRelease(role, 'shop')).toThrow(
      /service "shop" is not in the catalog \(services: api, web\)/,
    );
  });

  const readPairs = (table: string, key: string) => [
    `cloudformation:DescribeStacks arn:aws:cloudformation:us-east-1:123456789012:stack/Shop/*`,
    'cloudwatch:GetDashboard arn:aws:cloudwatch::123456789012:dashboard/tps-deploy-api',
    'cloudwatch:GetDashboard arn:aws:cloudwatch::123456789012:dashboard/tps-deploy-web',
    `dynamodb:GetItem ${table}`,
    `dynamodb:GetItem ${table}/index/history`,
    `dynamodb:Query ${table}`,
    `dynamodb:Query ${table}/index/history`,
    `kms:Decrypt ${key}`,
    `kms:DescribeKey ${key}`,
    ...['api', 'web'].flatMap((s) => [
      `states:DescribeExecution ${executions(s)}`,
      `states:DescribeStateMachine ${sm(s)}`,
      `states:DescribeStateMachineForExecution ${executions(s)}`,
      `states:GetExecutionHistory ${executions(s)}`,
      `states:ListExecutions ${sm(s)}`,
    ]),
  ];

  test('grantRead: executions, state machines, the table and its key, dashboards, the stack outputs', () => {
    const { stack, runbook, role, roleId } = setUp();
    runbook.grantRead(role);
    const table = `${stack.getLogicalId(runbook.table.table.node.defaultChild as never)}.Arn`;
    const key = `${stack.getLogicalId(runbook.encryptionKey.node.defaultChild as never)}.Arn`;
    expect(pairs(Template.fromStack(stack), roleId)).toEqual(readPairs(table, key).sort());
  });

  test('grantOperate: InvokeFunctionUrl on the answer endpoint with AuthType AWS_IAM, plus grantRead', () => {
    const { stack, runbook, role, roleId } = setUp();
    runbook.grantOperate(role);
    const table = `${stack.getLogicalId(runbook.table.table.node.defaultChild as never)}.Arn`;
    const key = `${stack.getLogicalId(runbook.encryptionKey.node.defaultChild as never)}.Arn`;
    const fn = `${stack.getLogicalId(runbook.answerEndpoint.fn.node.defaultChild as never)}.Arn`;
    expect(pairs(Template.fromStack(stack), roleId)).toEqual(
      [
        ...readPairs(table, key),
        `lambda:InvokeFunctionUrl ${fn} if {"StringEquals":{"lambda:FunctionUrlAuthType":"AWS_IAM"}}`,
      ].sort(),
    );
  });
});

describe('code from prebuilt bundles (the installed package)', () => {
  test('every function runs its handler from one asset: the bundles plus catalog.json, the parsed catalog', () => {
    // Stand-in bundles in the layout scripts/build-package.ts writes: an entry per handler, shared chunks.
    const bundles = mkdtempSync(join(tmpdir(), 'tps-prebuilt-'));
    const entries = [...TASK_KEYS.map((k) => TASKS[k].entry), ANSWER_ENTRY].map(prebuiltEntryName);
    for (const name of entries)
      writeFileSync(join(bundles, `${name}.mjs`), `export const handler = () => '${name}';\n`);
    mkdirSync(join(bundles, 'chunks'));
    writeFileSync(join(bundles, 'chunks', 'shared.mjs'), 'export const shared = 1;\n');
    const outdir = mkdtempSync(join(tmpdir(), 'tps-prebuilt-out-'));
    const app = new App({ outdir });
    const stack = new Stack(app, 'Shop', { env: ENV });
    new ReleaseRunbook(stack, 'Runbook', { catalog: sample, code: { kind: 'prebuilt', dir: bundles } });
    const json = Template.fromStack(stack).toJSON();
    app.synth();
    const functions = Object.values(
      json.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>,
    ).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions).toHaveLength(TASK_KEYS.length + 1);
    expect(functions.map((f) => f.Properties.Handler as string).sort()).toEqual(
      entries.map((e) => `${e}.handler`).sort(),
    );
    expect(new Set(functions.map((f) => JSON.stringify(f.Properties.Code))).size).toBe(1);
    expect(functions.every((f) => f.Properties.Runtime === 'nodejs24.x' && f.Properties.TracingConfig)).toBe(
      true,
    );
    const assets = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    const asset = join(outdir, assets[0]!);
    expect(readdirSync(asset).sort()).toEqual(
      [...entries.map((e) => `${e}.mjs`), 'catalog.json', 'chunks'].sort(),
    );
    expect(readFileSync(join(asset, 'chunks', 'shared.mjs'), 'utf8')).toContain('shared');
    expect(JSON.parse(readFileSync(join(asset, 'catalog.json'), 'utf8'))).toEqual(
      JSON.parse(JSON.stringify(parseCatalog(sample))),
    );
  });
});
