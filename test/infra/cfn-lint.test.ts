import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
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

test("cfn-lint: the 'private' endpoint mode (cluster tasks in a VPC, VPC endpoints) is clean too", () => {
  const env = { account: '123456789012', region: 'us-east-1' };
  const template = synthTemplate({
    env,
    network: (app) => ({
      endpointAccess: 'private',
      vpc: ec2.Vpc.fromVpcAttributes(new Stack(app, 'ClusterNetwork', { env }), 'Vpc', {
        vpcId: 'vpc-0ddd0000000000001',
        availabilityZones: ['us-east-1a', 'us-east-1b'],
        isolatedSubnetIds: ['subnet-0bbb0000000000001', 'subnet-0bbb0000000000002'],
        isolatedSubnetRouteTableIds: ['rtb-0bbb1', 'rtb-0bbb2'],
      }),
    }),
  });
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
