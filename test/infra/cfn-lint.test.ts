import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import {
  type CfnLintMatch,
  cfnLint,
  describeMatch,
  ensureCfnLint,
  TOLERATED_WARNINGS,
} from '../helpers/cfn-lint.js';
import { synthTemplate } from '../helpers/synth.js';

let dir: string;
let cfnLintBin: string;

beforeAll(() => {
  cfnLintBin = ensureCfnLint();
  dir = mkdtempSync(join(tmpdir(), 'tps-cfn-lint-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const lint = (template: unknown): CfnLintMatch[] => cfnLint(cfnLintBin, dir, template);

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
