import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App, CfnResource, CloudFormationValidatePlugin, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { parseCatalog } from '../../functions/domain/config.js';
import { buildApp } from '../../infra/build-app.js';
import sampleCatalog from '../../tps.config.js';
import { synthTemplate } from '../helpers/synth.js';

/**
 * Warnings that are properties of CDK's output rather than of our stack, each with the reason:
 * - W3005: CDK adds DependsOn on a role next to the GetAtt of the same role (functions and state
 *   machines wait for the role's default policy that way); the redundant edge is harmless.
 */
const TOLERATED_WARNINGS = ['W3005'];

interface CfnLintMatch {
  readonly Level: 'Error' | 'Warning' | 'Informational';
  readonly Message: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path?: readonly (string | number)[] };
}

const ROOT = resolve(import.meta.dirname, '..', '..');
let dir: string;
let cfnLint: string;

beforeAll(() => {
  // Installs cfn-lint into the cache on first use (seconds), then only prints its path.
  cfnLint = execFileSync('sh', [join(ROOT, 'scripts', 'ensure-cfn-lint.sh')], { encoding: 'utf8' }).trim();
  dir = mkdtempSync(join(tmpdir(), 'tps-cfn-lint-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function lint(template: unknown): CfnLintMatch[] {
  const file = join(dir, `template-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(template, null, 1));
  // Exit status is a bit mask of the levels found (2 error, 4 warning, 8 info); read the JSON.
  const run = spawnSync(cfnLint, ['--format', 'json', '--', file], { encoding: 'utf8' });
  if (run.error) throw run.error;
  if (run.stdout.trim() === '')
    throw new Error(`cfn-lint printed nothing (status ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as CfnLintMatch[];
}

const describeMatch = (m: CfnLintMatch) => `${m.Rule.Id} ${m.Message} at ${m.Location.Path?.join('/')}`;

test('cfn-lint reports no errors and no warnings beyond the tolerated ones', () => {
  const matches = lint(synthTemplate());
  expect(matches.filter((m) => m.Level === 'Error').map(describeMatch)).toEqual([]);
  expect(
    matches
      .filter((m) => m.Level === 'Warning' && !TOLERATED_WARNINGS.includes(m.Rule.Id))
      .map(describeMatch),
  ).toEqual([]);
});

const PRIVATE_ENV = { account: '123456789012', region: 'us-east-1' };

/** The 'private' endpoint mode: cluster tasks in an existing VPC of a stack of its own. */
const privateNetwork = (app: App) => ({
  endpointAccess: 'private' as const,
  vpc: ec2.Vpc.fromVpcAttributes(new Stack(app, 'ClusterNetwork', { env: PRIVATE_ENV }), 'Vpc', {
    vpcId: 'vpc-0ddd0000000000001',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    isolatedSubnetIds: ['subnet-0bbb0000000000001', 'subnet-0bbb0000000000002'],
    isolatedSubnetRouteTableIds: ['rtb-0bbb1', 'rtb-0bbb2'],
  }),
});

test("cfn-lint: the 'private' endpoint mode (cluster tasks in a VPC, VPC endpoints) is clean too", () => {
  const template = synthTemplate({ env: PRIVATE_ENV, network: privateNetwork });
  expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::EC2::VPCEndpoint')).toHaveLength(5);
  const matches = lint(template);
  expect(matches.filter((m) => m.Level === 'Error').map(describeMatch)).toEqual([]);
  expect(
    matches
      .filter((m) => m.Level === 'Warning' && !TOLERATED_WARNINGS.includes(m.Rule.Id))
      .map(describeMatch),
  ).toEqual([]);
});

test('cfn-lint is live: a broken template is reported as an error', () => {
  const broken = structuredClone(synthTemplate()) as {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
  const fn = Object.values(broken.Resources).find((r) => r.Type === 'AWS::Lambda::Function')!;
  fn.Properties!.Runtime = 'nodejs4.3-unknown';
  fn.Properties!.MemorySize = 1;
  const errors = lint(broken).filter((m) => m.Level === 'Error');
  expect(errors.length).toBeGreaterThan(0);
  expect(errors.map((m) => m.Location.Path?.join('/')).join(' ')).toMatch(/MemorySize|Runtime/);
});

/**
 * CDK's built-in CloudFormation validation (CloudFormationValidatePlugin, default rules), with the
 * @aws-cdk/core:validateAgainstDefaultRules flag that makes its findings errors: synth throws on
 * any. The other tests synthesize without it (CDK_VALIDATION=false, test/global-setup.ts), where
 * it would only have warned.
 */
function strictlyValidated(app: App): () => void {
  Validations.of(app).addPlugins(new CloudFormationValidatePlugin());
  return () => app.synth();
}

const STRICT = { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:validateAgainstDefaultRules': true };

test("CDK's CloudFormation validation, its findings as errors, passes the sample catalog and the 'private' endpoint mode", () => {
  const catalog = parseCatalog(sampleCatalog);
  const plain = buildApp({ catalog, env: {}, appProps: { context: STRICT } });
  expect(strictlyValidated(plain.app)).not.toThrow();
  let network: Stack | undefined;
  const inVpc = buildApp({
    catalog,
    env: PRIVATE_ENV,
    network: (app) => {
      const n = privateNetwork(app);
      network = Stack.of(n.vpc);
      return n;
    },
    appProps: { context: STRICT },
  });
  // The test's stand-in network stack only imports the VPC: it has no resources of its own.
  Validations.of(network!).acknowledge({
    id: 'CloudFormation-Validate::F0001',
    reason: 'a stand-in stack that only imports a VPC',
  });
  expect(strictlyValidated(inVpc.app)).not.toThrow();
});

test("CDK's CloudFormation validation is live: an unknown property fails the synth", () => {
  const app = new App({ context: STRICT });
  new CfnResource(new Stack(app, 'Broken'), 'Queue', {
    type: 'AWS::SQS::Queue',
    properties: { VisibilityTimeout: 'soon', NotAProperty: 1 },
  });
  expect(strictlyValidated(app)).toThrow(/NotAProperty: Additional properties are not allowed/);
});
