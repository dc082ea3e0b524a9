/**
 * The doctor's pure parts and its answers when there is nothing to check against: the endpoint
 * judgment (table), the permissions read from the shipped Role manifest, and the CLI runs where
 * the stack gives no runbook or no source is given at all. The checks against a real cluster, each
 * broken in turn, are in test/integration/doctor.test.ts.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { judgeEndpoint } from '../../cli/doctor/checks.js';
import { applyRoleCommand, ROLE_MANIFEST_PATH, shippedRolePermissions } from '../../cli/doctor/kube.js';
import type { CheckResult, ClusterFacts } from '../../cli/doctor/ports.js';
import type { RunbookOutput } from '../../functions/contract/runbook-output.js';
import { kubernetesGroup } from '../../infra/names.js';
import { ACCOUNT, CATALOG, cli, REGION } from './cli-harness.js';

const CLUSTER = { name: 'prod-eks', region: 'us-east-1' };
const ACTIVE: ClusterFacts = {
  status: 'ACTIVE',
  endpointPublicAccess: true,
  endpointPrivateAccess: false,
  publicAccessCidrs: ['0.0.0.0/0'],
  authenticationMode: 'API',
  vpcId: 'vpc-0abc',
};
const OUTSIDE: RunbookOutput['network'] = { endpointAccess: 'public', securityGroupIds: [], subnetIds: [] };
const inVpc = (endpointAccess: RunbookOutput['network']['endpointAccess']): RunbookOutput['network'] => ({
  endpointAccess,
  securityGroupIds: ['sg-1'],
  subnetIds: ['subnet-1', 'subnet-2'],
});

describe('judgeEndpoint: can the cluster tasks reach the API endpoint from their network', () => {
  it.each<[string, Partial<ClusterFacts>, RunbookOutput['network'], 'PASS' | 'FAIL', RegExp]>([
    ['outside a VPC, public endpoint open', {}, OUTSIDE, 'PASS', /the open public endpoint/],
    [
      'outside a VPC, private-only endpoint',
      { endpointPublicAccess: false, endpointPrivateAccess: true },
      OUTSIDE,
      'FAIL',
      /cannot reach a private-only endpoint/,
    ],
    [
      'outside a VPC, public endpoint limited to CIDRs',
      { publicAccessCidrs: ['198.51.100.7/32'] },
      OUTSIDE,
      'FAIL',
      /no fixed address, so an endpoint limited to 198\.51\.100\.7\/32 refuses it/,
    ],
    [
      'outside a VPC, public and private, open',
      { endpointPrivateAccess: true },
      OUTSIDE,
      'PASS',
      /the open public endpoint/,
    ],
    [
      'in the VPC, private endpoint on',
      { endpointPublicAccess: false, endpointPrivateAccess: true },
      inVpc('private'),
      'PASS',
      /the private endpoint/,
    ],
    [
      'in the VPC expecting the private endpoint, which is off',
      { publicAccessCidrs: ['198.51.100.7/32'] },
      inVpc('private'),
      'FAIL',
      /expects the private endpoint, which is off/,
    ],
    [
      'in the VPC behind NAT, public endpoint limited: passes, naming what is not checked',
      { publicAccessCidrs: ['198.51.100.7/32'] },
      inVpc('public'),
      'PASS',
      /through the VPC's NAT \(its address must be in 198\.51\.100\.7\/32; not checked here\)/,
    ],
    ['not ACTIVE', { status: 'CREATING' }, OUTSIDE, 'FAIL', /cluster prod-eks is CREATING, not ACTIVE/],
  ])('%s', (_name, facts, network, status, detail) => {
    const j = judgeEndpoint(CLUSTER, { ...ACTIVE, ...facts }, network);
    expect(j.status).toBe(status);
    expect(j.detail).toMatch(detail);
    if (status === 'FAIL')
      expect(j.fix).toMatch(
        /aws eks (update-cluster-config|describe-cluster) --name prod-eks --region us-east-1/,
      );
    else expect(j.fix).toBeNull();
  });

  it('the fix for a private-only endpoint names both ways, with the exact command', () => {
    const j = judgeEndpoint(
      CLUSTER,
      { ...ACTIVE, endpointPublicAccess: false, endpointPrivateAccess: true },
      OUTSIDE,
    );
    expect(j.fix).toBe(
      'deploy the stack with network { endpointAccess: \'private\', vpc: vpc-0abc } (docs/deploying.md, "Reaching the cluster: EKS endpoint modes"), or open the public endpoint: aws eks update-cluster-config --name prod-eks --region us-east-1 --resources-vpc-config endpointPublicAccess=true,publicAccessCidrs=0.0.0.0/0',
    );
  });
});

describe('what each function group needs: the shipped Role manifest', () => {
  it('binds the read and write groups of the app to every rule of their Role', () => {
    const byGroup = shippedRolePermissions('shop');
    expect([...byGroup.keys()]).toEqual([kubernetesGroup('shop', 'read'), kubernetesGroup('shop', 'write')]);
    const read = byGroup.get(kubernetesGroup('shop', 'read'))!;
    expect(read).toHaveLength(7);
    expect(read.every((p) => p.verb === 'get' || p.verb === 'list')).toBe(true);
    const write = byGroup.get(kubernetesGroup('shop', 'write'))!;
    expect(write).toContainEqual({ apiGroup: 'apps', resource: 'deployments', verb: 'patch' });
    expect(write).toContainEqual({ apiGroup: 'networking.k8s.io', resource: 'ingresses', verb: 'patch' });
    expect(write).toContainEqual({ apiGroup: 'batch', resource: 'jobs', verb: 'create' });
    expect(write).toHaveLength(18);
  });

  it('reads the file people apply, with the app name filled in', () => {
    const manifest = readFileSync(ROLE_MANIFEST_PATH, 'utf8');
    expect(manifest).toContain('name: tps-deploy-TPS_APP_NAME-write');
    const edited = manifest.replace(/verbs: \["get", "patch"\]/, 'verbs: ["get"]');
    const write = shippedRolePermissions('shop', edited).get(kubernetesGroup('shop', 'write'))!;
    expect(write).not.toContainEqual({ apiGroup: 'networking.k8s.io', resource: 'ingresses', verb: 'patch' });
    expect(applyRoleCommand('shop', 'payments')).toBe(
      "sed 's/TPS_APP_NAME/shop/g' infra/k8s/tps-deploy-role.yaml | kubectl -n payments apply -f -",
    );
  });
});

describe('doctor with nothing to check against', () => {
  const cfn = mockClient(CloudFormationClient);
  const sts = mockClient(STSClient);
  let outside: string;
  beforeAll(async () => {
    outside = await mkdtemp(join(tmpdir(), 'doctor-unit-'));
  });
  afterAll(async () => {
    await rm(outside, { recursive: true, force: true });
  });
  beforeEach(() => {
    cfn.reset();
    sts.reset();
    sts.on(GetCallerIdentityCommand).resolves({
      UserId: 'AIDAEXAMPLE',
      Account: ACCOUNT,
      Arn: `arn:aws:iam::${ACCOUNT}:user/sam`,
    });
  });
  const clients = () => ({
    cloudformation: new CloudFormationClient({ region: REGION }),
    sts: new STSClient({ region: REGION }),
  });
  const checksOf = (stdout: string) => (JSON.parse(stdout) as { checks: CheckResult[] }).checks;

  it('a stack that does not exist and no --config: stack FAILs, the rest SKIP for want of a catalog', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'Stack with id nope does not exist',
      }),
    );
    const r = await cli(['--stack', 'nope', 'doctor', '--json'], {
      io: { catalog: undefined, cwd: outside, env: { AWS_REGION: REGION }, clients: clients() },
    });
    expect(r.code).toBe(1);
    const checks = checksOf(r.stdout);
    expect(checks.map((c) => [c.check, c.status])).toEqual([
      ['credentials', 'PASS'],
      ['stack', 'FAIL'],
      ['endpoint', 'SKIP'],
      ['access-entries', 'SKIP'],
      ['kubernetes-role', 'SKIP'],
      ['workload', 'SKIP'],
      ['router', 'SKIP'],
      ['metrics', 'SKIP'],
      ['alarms', 'SKIP'],
      ['on-call', 'SKIP'],
    ]);
    const stack = checks[1]!;
    expect(stack.detail).toContain(`--stack: no stack "nope" in ${REGION}`);
    expect(stack.fix).toBe(
      `check the name and region: aws cloudformation describe-stacks --stack-name nope --region ${REGION}; deploy it with npx cdk deploy`,
    );
    expect(checks[5]!.detail).toBe('no catalog: the stack gives none and no --config was given (see stack)');
  });

  it('an unknown --service is a usage error listing the catalog services', async () => {
    const r = await cli(['doctor', '--service', 'nope', '--json'], { io: { clients: clients() } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--service: unknown service "nope"; the catalog has api, web/);
    expect(sts.calls()).toEqual([]);
  });

  it('no --stack: the stack check FAILs naming the flag (and the stack npx cdk deploy names)', async () => {
    const { checkStack } = await import('../../cli/doctor/checks.js');
    const [result] = await checkStack({} as never, {
      stackName: null,
      runbook: null,
      catalog: { appName: CATALOG.appName!, services: {} },
      services: [],
      region: REGION,
    });
    expect(result).toEqual({
      check: 'stack',
      subject: null,
      status: 'FAIL',
      detail:
        'no --stack: the deployed runbook is unknown, so the endpoint, access-entry and Role checks cannot run',
      fix: 'pass --stack <name> or set TPS_STACK (npx cdk deploy names the stack after appName: --stack tps-test)',
    });
  });

  it('outside the repository with no --config and no --stack it refuses as every AWS command does', async () => {
    const r = await cli(['doctor'], { io: { catalog: undefined, cwd: outside, clients: clients() } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no service catalog: pass --config <file> .* or --stack <name>/);
    expect(sts.calls()).toEqual([]);
    expect(cfn.calls()).toEqual([]);
  });
});
