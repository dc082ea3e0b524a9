/**
 * Issue #16, the VPC part: the functions that reach the cluster (CLUSTER_TASKS) in each EKS
 * endpoint mode (docs/deploying.md, "Reaching the cluster: EKS endpoint modes"). Which functions
 * get a VpcConfig, with which subnets and security groups; the security groups' rules; the VPC
 * endpoints and their services; the ENI permissions Lambda needs, on exactly the cluster tasks'
 * roles; cdk-nag (every synth here runs it); and the default template untouched.
 */
import { type App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { PORT_GRANTS } from '../../functions/contract/permissions.js';
import { CLUSTER_TASKS, TASK_ENV, TASK_KEYS, type TaskKey } from '../../functions/contract/tasks.js';
import type { CatalogInput } from '../../functions/domain/config.js';
import {
  type EndpointAccess,
  type ReleaseNetwork,
  VPC_ENDPOINT_OF,
  VPC_ENI_ACTIONS,
} from '../../infra/constructs/task-network.js';
import { acknowledgeNag } from '../../infra/nag.js';
import { catalogWithDatabases } from '../helpers/catalogs.js';
import { type CfnTemplate, resourcesOfType, synthStack, synthTemplate } from '../helpers/synth.js';

/** The sample catalog's clusters are in us-east-1; a concrete env gives literal service names. */
const ENV = { account: '123456789012', region: 'us-east-1' } as const;
const PRIVATE_SUBNETS = ['subnet-0aaa0000000000001', 'subnet-0aaa0000000000002'];
const ISOLATED_SUBNETS = ['subnet-0bbb0000000000001', 'subnet-0bbb0000000000002'];
const PUBLIC_SUBNETS = ['subnet-0ccc0000000000001', 'subnet-0ccc0000000000002'];

/** The cluster's VPC as a stack of the same app imports it: private (NAT), isolated and public subnets. */
function clusterVpc(app: App, kind: 'with-nat' | 'isolated' = 'with-nat'): ec2.IVpc {
  const stack = new Stack(app, 'ClusterNetwork', { env: ENV });
  return ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0ddd0000000000001',
    vpcCidrBlock: '10.0.0.0/16',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    publicSubnetIds: PUBLIC_SUBNETS,
    publicSubnetRouteTableIds: ['rtb-0ccc1', 'rtb-0ccc2'],
    ...(kind === 'with-nat'
      ? { privateSubnetIds: PRIVATE_SUBNETS, privateSubnetRouteTableIds: ['rtb-0aaa1', 'rtb-0aaa2'] }
      : { isolatedSubnetIds: ISOLATED_SUBNETS, isolatedSubnetRouteTableIds: ['rtb-0bbb1', 'rtb-0bbb2'] }),
  });
}

/** Synthesizes the real app (cdk-nag on) with the cluster tasks' network built in it. */
function synthWith(build: (app: App) => ReleaseNetwork, catalog?: CatalogInput): CfnTemplate {
  return synthTemplate({ env: ENV, network: build, ...(catalog ? { catalog } : {}) });
}

/** The task of each task function's logical ID, and the answer endpoint's ID. */
function functionsOf(template: CfnTemplate): { tasks: Record<string, TaskKey>; endpoint: string } {
  const tasks: Record<string, TaskKey> = {};
  let endpoint = '';
  for (const id of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const task = template.Resources[id]!.Properties!.Environment?.Variables?.[TASK_ENV];
    if (task) tasks[id] = task;
    else endpoint = id;
  }
  return { tasks, endpoint };
}

/** The VpcConfig of each task's function (undefined outside any VPC). */
function vpcConfigs(template: CfnTemplate): Record<TaskKey, unknown> {
  const { tasks } = functionsOf(template);
  return Object.fromEntries(
    Object.entries(tasks).map(([id, task]) => [task, template.Resources[id]!.Properties!.VpcConfig]),
  ) as Record<TaskKey, unknown>;
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/** `action resource` pairs of a role's inline policies (literal resources only, as ENI's "*"). */
function rolePairs(template: CfnTemplate, roleId: string): string[] {
  const pairs: string[] = [];
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    if (!(r.Properties!.Roles ?? []).some((x: { Ref?: string }) => x.Ref === roleId)) continue;
    for (const s of r.Properties!.PolicyDocument.Statement) {
      for (const a of [s.Action].flat())
        for (const res of [s.Resource].flat()) pairs.push(`${a} ${JSON.stringify(res)}`);
    }
  }
  return pairs.sort();
}

function roleOfFunction(template: CfnTemplate, fnId: string): string {
  return template.Resources[fnId]!.Properties!.Role['Fn::GetAtt'][0];
}

describe('no network props: the template of today', () => {
  test('no function has a VpcConfig and the stack has no EC2 resource', () => {
    const template = synthTemplate();
    expect(Object.values(vpcConfigs(template)).filter((c) => c !== undefined)).toEqual([]);
    expect(Object.values(template.Resources).filter((r) => r.Type.startsWith('AWS::EC2::'))).toEqual([]);
    expect(Object.keys(template.Outputs ?? {})).not.toContain('ClusterTasksSecurityGroup');
  });

  test("endpointAccess 'public' without a VPC synthesizes the very same template", () => {
    const plain = synthTemplate({ env: ENV });
    const publicMode = synthStack({ env: ENV, stackProps: { network: { endpointAccess: 'public' } } });
    expect(publicMode.template.toJSON()).toEqual(plain);
  });

  test('no role has an EC2 action', () => {
    const template = synthTemplate();
    const roles = resourcesOfType(template, 'AWS::IAM::Role');
    expect(roles.flatMap((r) => rolePairs(template, r)).filter((p) => p.startsWith('ec2:'))).toEqual([]);
  });
});

/** What every mode with a VPC shares: only the cluster tasks in it, with ENI rights, nothing else moved. */
function expectClusterTasksInVpc(
  template: CfnTemplate,
  subnets: readonly string[],
  securityGroupIds: unknown[],
) {
  const configs = vpcConfigs(template);
  for (const task of TASK_KEYS) {
    expect({ task, vpc: configs[task] }).toEqual({
      task,
      vpc: CLUSTER_TASKS.includes(task)
        ? { SubnetIds: [...subnets], SecurityGroupIds: securityGroupIds }
        : undefined,
    });
  }
  const { endpoint } = functionsOf(template);
  expect(template.Resources[endpoint]!.Properties!.VpcConfig).toBeUndefined();
  // The ENI actions, inline on each cluster task's role, on "*"; no other role has them, and no
  // role gets the AWS managed policy instead.
  const plain = synthTemplate({ env: ENV });
  const { tasks } = functionsOf(template);
  const { tasks: plainTasks } = functionsOf(plain);
  const plainByTask = Object.fromEntries(Object.entries(plainTasks).map(([id, t]) => [t, id]));
  for (const [id, task] of Object.entries(tasks)) {
    const mine = rolePairs(template, roleOfFunction(template, id));
    const before = rolePairs(plain, roleOfFunction(plain, plainByTask[task]!));
    const added = mine.filter((p) => !before.includes(p));
    const removed = before.filter((p) => !mine.includes(p));
    expect({ task, added, removed }).toEqual({
      task,
      added: CLUSTER_TASKS.includes(task) ? VPC_ENI_ACTIONS.map((a) => `${a} "*"`).sort() : [],
      removed: [],
    });
  }
  expect(rolePairs(template, roleOfFunction(template, endpoint)).filter((p) => p.startsWith('ec2:'))).toEqual(
    [],
  );
  for (const role of resourcesOfType(template, 'AWS::IAM::Role')) {
    expect(template.Resources[role]!.Properties!.ManagedPolicyArns).toBeUndefined();
  }
}

/** The logical ID of the one security group created for the cluster tasks. */
function tasksGroup(template: CfnTemplate): string {
  const ids = resourcesOfType(template, 'AWS::EC2::SecurityGroup').filter((id) =>
    String(template.Resources[id]!.Properties!.GroupDescription).startsWith('tps-deploy cluster tasks'),
  );
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

describe("'public' with a VPC: a public endpoint limited to some CIDRs, reached through the VPC's NAT", () => {
  const build = (app: App): ReleaseNetwork => ({ endpointAccess: 'public', vpc: clusterVpc(app) });

  test('the cluster tasks run in the private subnets with a created security group; nothing else does', () => {
    const template = synthWith(build);
    const sg = tasksGroup(template);
    expectClusterTasksInVpc(template, PRIVATE_SUBNETS, [{ 'Fn::GetAtt': [sg, 'GroupId'] }]);
  });

  test('the security group allows only HTTPS out; no VPC endpoint is created (the NAT reaches AWS)', () => {
    const template = synthWith(build);
    const t = Template.fromJSON(template);
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('cluster tasks'),
      VpcId: 'vpc-0ddd0000000000001',
      SecurityGroupEgress: [
        { CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: Match.anyValue() },
      ],
    });
    expect(template.Resources[tasksGroup(template)]!.Properties!.SecurityGroupIngress).toBeUndefined();
    t.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    t.resourceCountIs('AWS::EC2::SecurityGroup', 1);
    expect(template.Outputs?.ClusterTasksSecurityGroup).toEqual({
      Description: expect.stringContaining("cluster's security group"),
      Value: { 'Fn::GetAtt': [tasksGroup(template), 'GroupId'] },
    });
  });
});

describe("'public-and-private': the cluster tasks use the private endpoint from inside the VPC", () => {
  test('the cluster tasks run in the private subnets; VPC endpoints only when asked', () => {
    const template = synthWith((app) => ({ endpointAccess: 'public-and-private', vpc: clusterVpc(app) }));
    expectClusterTasksInVpc(template, PRIVATE_SUBNETS, [{ 'Fn::GetAtt': [tasksGroup(template), 'GroupId'] }]);
    Template.fromJSON(template).resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  test('createVpcEndpoints: true creates them in the same subnets', () => {
    const template = synthWith((app) => ({
      endpointAccess: 'public-and-private',
      vpc: clusterVpc(app),
      createVpcEndpoints: true,
    }));
    const t = Template.fromJSON(template);
    t.resourceCountIs('AWS::EC2::VPCEndpoint', 5);
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.us-east-1.eks',
      SubnetIds: PRIVATE_SUBNETS,
    });
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
      VpcEndpointType: 'Gateway',
      RouteTableIds: ['rtb-0aaa1', 'rtb-0aaa2'],
    });
  });
});

/** ServiceName of each endpoint (a gateway's is a join of the region), with its type. */
function endpointServices(template: CfnTemplate): string[] {
  return resourcesOfType(template, 'AWS::EC2::VPCEndpoint')
    .map((id) => template.Resources[id]!.Properties!)
    .map((p) => {
      const name =
        typeof p.ServiceName === 'string'
          ? p.ServiceName
          : (p.ServiceName['Fn::Join'][1] as unknown[])
              .map((x) =>
                typeof x === 'string' ? x : (x as { Ref: string }).Ref === 'AWS::Region' ? 'us-east-1' : '?',
              )
              .join('');
      return `${p.VpcEndpointType} ${name}`;
    })
    .sort();
}

describe("'private': no NAT, the cluster tasks reach AWS through VPC endpoints", () => {
  const build = (app: App): ReleaseNetwork => ({
    endpointAccess: 'private',
    vpc: clusterVpc(app, 'isolated'),
  });

  test('the cluster tasks run in the isolated subnets (the default selection when there is no NAT)', () => {
    const template = synthWith(build);
    expectClusterTasksInVpc(template, ISOLATED_SUBNETS, [
      { 'Fn::GetAtt': [tasksGroup(template), 'GroupId'] },
    ]);
  });

  test('one endpoint per AWS service the cluster tasks call: EKS, CloudWatch, SNS, Step Functions, DynamoDB (gateway)', () => {
    const template = synthWith(build);
    expect(endpointServices(template)).toEqual([
      'Gateway com.amazonaws.us-east-1.dynamodb',
      'Interface com.amazonaws.us-east-1.eks',
      'Interface com.amazonaws.us-east-1.monitoring',
      'Interface com.amazonaws.us-east-1.sns',
      'Interface com.amazonaws.us-east-1.states',
    ]);
    // Neither STS (the token is presigned, never sent by the function) nor CloudWatch Logs (Lambda
    // delivers the logs) nor KMS (DynamoDB and SNS call it).
    expect(endpointServices(template).join(' ')).not.toMatch(/\.(sts|logs|kms)$/m);
  });

  test('a catalog whose gates read a CodePipeline gets its endpoint too (and RDS none: no cluster task snapshots)', () => {
    const template = synthWith(build, catalogWithDatabases);
    expect(endpointServices(template)).toEqual([
      'Gateway com.amazonaws.us-east-1.dynamodb',
      'Interface com.amazonaws.us-east-1.codepipeline',
      'Interface com.amazonaws.us-east-1.eks',
      'Interface com.amazonaws.us-east-1.monitoring',
      'Interface com.amazonaws.us-east-1.sns',
      'Interface com.amazonaws.us-east-1.states',
    ]);
  });

  test('interface endpoints: private DNS, one per AZ in the tasks subnets, behind a group open to the tasks only', () => {
    const template = synthWith(build);
    const t = Template.fromJSON(template);
    const groups = resourcesOfType(template, 'AWS::EC2::SecurityGroup');
    const endpointGroup = groups.find((g) => g !== tasksGroup(template))!;
    for (const svc of ['eks', 'monitoring', 'sns', 'states']) {
      t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        ServiceName: `com.amazonaws.us-east-1.${svc}`,
        VpcEndpointType: 'Interface',
        VpcId: 'vpc-0ddd0000000000001',
        PrivateDnsEnabled: true,
        SubnetIds: ISOLATED_SUBNETS,
        SecurityGroupIds: [{ 'Fn::GetAtt': [endpointGroup, 'GroupId'] }],
      });
    }
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      RouteTableIds: ['rtb-0bbb1', 'rtb-0bbb2'],
    });
    // The endpoints' group lets in HTTPS from the tasks' group and nothing else.
    const ingress = resourcesOfType(template, 'AWS::EC2::SecurityGroupIngress').map(
      (id) => template.Resources[id]!.Properties!,
    );
    expect(ingress).toEqual([
      expect.objectContaining({
        GroupId: { 'Fn::GetAtt': [endpointGroup, 'GroupId'] },
        SourceSecurityGroupId: { 'Fn::GetAtt': [tasksGroup(template), 'GroupId'] },
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
      }),
    ]);
    expect(template.Resources[endpointGroup]!.Properties!.SecurityGroupIngress).toBeUndefined();
  });

  test('createVpcEndpoints: false (the VPC has them already) creates none', () => {
    const template = synthWith((app) => ({ ...build(app), createVpcEndpoints: false }));
    Template.fromJSON(template).resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    expectClusterTasksInVpc(template, ISOLATED_SUBNETS, [
      { 'Fn::GetAtt': [tasksGroup(template), 'GroupId'] },
    ]);
  });

  test('given security groups and subnets are used as given; no tasks group is created', () => {
    let given: ec2.ISecurityGroup | undefined;
    const template = synthWith((app) => {
      const vpc = clusterVpc(app, 'isolated');
      given = ec2.SecurityGroup.fromSecurityGroupId(Stack.of(vpc), 'Mine', 'sg-0eee0000000000001', {
        mutable: false,
      });
      return {
        endpointAccess: 'private',
        vpc,
        vpcSubnets: { subnets: [vpc.isolatedSubnets[1]!] },
        securityGroups: [given],
      };
    });
    expect(given).toBeDefined();
    const configs = vpcConfigs(template);
    for (const task of CLUSTER_TASKS) {
      expect(configs[task]).toEqual({
        SubnetIds: [ISOLATED_SUBNETS[1]],
        SecurityGroupIds: ['sg-0eee0000000000001'],
      });
    }
    const groups = resourcesOfType(template, 'AWS::EC2::SecurityGroup');
    expect(groups).toHaveLength(1); // the endpoints' group only
    Template.fromJSON(template).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [groups[0], 'GroupId'] },
      SourceSecurityGroupId: 'sg-0eee0000000000001',
      FromPort: 443,
    });
    Template.fromJSON(template).hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.us-east-1.eks',
      SubnetIds: [ISOLATED_SUBNETS[1]],
    });
  });

  test('a VPC built as an ec2.Vpc in a stack of its own: the subnets and VPC come in as imports', () => {
    const template = synthWith((app) => {
      const stack = new Stack(app, 'Cluster', { env: ENV });
      const vpc = new ec2.Vpc(stack, 'Vpc', {
        natGateways: 0,
        maxAzs: 2,
        subnetConfiguration: [{ name: 'cluster', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
      });
      acknowledgeNag(
        stack,
        'AwsSolutions-VPC7',
        undefined,
        'test fixture: the cluster VPC is not under test here',
      );
      return { endpointAccess: 'private', vpc };
    });
    const configs = vpcConfigs(template);
    expect(configs.rollBack).toEqual({
      SubnetIds: [expect.objectContaining({ 'Fn::ImportValue': expect.any(String) }), expect.anything()],
      SecurityGroupIds: [{ 'Fn::GetAtt': [tasksGroup(template), 'GroupId'] }],
    });
    expect(configs.validateInput).toBeUndefined();
    Template.fromJSON(template).resourceCountIs('AWS::EC2::VPCEndpoint', 5);
  });
});

describe('every mode passes cdk-nag', () => {
  test.each(['public', 'public-and-private', 'private'] as EndpointAccess[])('%s', (mode) => {
    expect(() =>
      synthStack({
        env: ENV,
        network: (app) => ({ endpointAccess: mode, vpc: clusterVpc(app, 'isolated') }),
      }),
    ).not.toThrow();
  });
});

describe('the endpoint list is decided for every AWS service a task can call', () => {
  test('each IAM prefix of the permission table has a VPC endpoint (a new service fails here)', () => {
    const prefixes = sorted(
      Object.values(PORT_GRANTS)
        .flat()
        .flatMap((g) => g.actions.map((a) => a.split(':')[0]!)),
    );
    expect(prefixes.filter((p) => !Object.hasOwn(VPC_ENDPOINT_OF, p))).toEqual([]);
  });
});

describe('props are validated, naming the field, the value and the fix', () => {
  const refuse = (build: (app: App) => ReleaseNetwork) => () => synthStack({ env: ENV, network: build });

  test("'private' without a VPC", () => {
    expect(refuse(() => ({ endpointAccess: 'private' }))).toThrow(
      /network\.vpc is missing, but network\.endpointAccess is "private".*Pass the cluster's VPC as network\.vpc/,
    );
  });

  test("'public-and-private' without a VPC", () => {
    expect(refuse(() => ({ endpointAccess: 'public-and-private' }))).toThrow(
      /network\.vpc is missing, but network\.endpointAccess is "public-and-private"/,
    );
  });

  test('an unknown mode', () => {
    expect(refuse(() => ({ endpointAccess: 'internal' as EndpointAccess }))).toThrow(
      /network\.endpointAccess is "internal"; it must be one of "public", "public-and-private", "private"/,
    );
  });

  test('subnets or security groups without a VPC', () => {
    expect(
      refuse(() => ({
        endpointAccess: 'public',
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      })),
    ).toThrow(
      /network\.vpcSubnets is set but network\.vpc is not.*Pass network\.vpc, or remove network\.vpcSubnets/,
    );
    expect(refuse(() => ({ endpointAccess: 'public', createVpcEndpoints: true }))).toThrow(
      /network\.createVpcEndpoints is set but network\.vpc is not/,
    );
  });

  test('a subnet that is not in the VPC', () => {
    expect(
      refuse((app) => {
        const vpc = clusterVpc(app, 'isolated');
        const other = ec2.Subnet.fromSubnetId(Stack.of(vpc), 'Other', 'subnet-0fff0000000000009');
        return { endpointAccess: 'private', vpc, vpcSubnets: { subnets: [other] } };
      }),
    ).toThrow(
      /network\.vpcSubnets names subnets that are not in network\.vpc \(vpc-0ddd0000000000001\): subnet-0fff0000000000009\. Pick subnets of the VPC/,
    );
  });

  test('a subnet type the VPC does not have', () => {
    expect(
      refuse((app) => ({
        endpointAccess: 'private',
        vpc: clusterVpc(app, 'isolated'),
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      })),
    ).toThrow(/network\.vpcSubnets selects nothing in network\.vpc \(vpc-0ddd0000000000001\)/);
  });

  test('public subnets', () => {
    expect(
      refuse((app) => ({
        endpointAccess: 'private',
        vpc: clusterVpc(app),
        vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      })),
    ).toThrow(
      /network\.vpcSubnets selects public subnets \(subnet-0ccc0000000000001, subnet-0ccc0000000000002\).*Select private subnets/,
    );
  });

  test('an empty list of security groups', () => {
    expect(
      refuse((app) => ({ endpointAccess: 'private', vpc: clusterVpc(app), securityGroups: [] })),
    ).toThrow(/network\.securityGroups is an empty list/);
  });
});
