import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { GrantTarget } from '../../functions/contract/permissions.js';
import { taskGrants } from '../../functions/contract/permissions.js';
import type { TaskKey } from '../../functions/contract/tasks.js';
import { pascalCase } from '../../functions/domain/text.js';

/**
 * How the catalog clusters' Kubernetes API endpoint can be reached, as set on the EKS cluster
 * (`endpointPublicAccess` / `endpointPrivateAccess`):
 * - `public`: public endpoint only (possibly limited to `publicAccessCidrs`);
 * - `public-and-private`: both; inside the cluster's VPC the endpoint's name resolves to private addresses;
 * - `private`: private endpoint only; reachable only from inside the cluster's VPC (or a network
 *   connected to it whose DNS resolves the endpoint's private hosted zone).
 */
export type EndpointAccess = 'public' | 'public-and-private' | 'private';

/** The three {@link EndpointAccess} modes. */
export const ENDPOINT_ACCESS_MODES: readonly EndpointAccess[] = ['public', 'public-and-private', 'private'];

/** Network of the functions that reach the cluster (ReleaseStackProps.network). */
export interface ReleaseNetwork {
  /** How the catalog clusters' API endpoint is reachable. */
  readonly endpointAccess: EndpointAccess;
  /**
   * The VPC the cluster tasks run in: the clusters' VPC (or one connected to it that resolves the
   * endpoint's private DNS name). Required for `public-and-private` and `private`; with `public` it
   * puts the cluster tasks behind the VPC's NAT, for a public endpoint limited to some CIDRs.
   * @default none: every function runs outside any VPC (today's behaviour; `public` only)
   */
  readonly vpc?: ec2.IVpc;
  /**
   * The subnets of the cluster tasks' network interfaces (and of the VPC endpoints). Private
   * subnets only: a function in a public subnet gets no public address.
   * @default the VPC's private subnets (`PRIVATE_WITH_EGRESS`, else `PRIVATE_ISOLATED`)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Security groups of the cluster tasks. They must allow egress on TCP 443 to the cluster's API
   * and to the AWS endpoints.
   * @default one security group, created, whose only rule allows egress on TCP 443
   */
  readonly securityGroups?: readonly ec2.ISecurityGroup[];
  /**
   * Create the VPC endpoints the cluster tasks call AWS through (interface endpoints with private
   * DNS, one gateway endpoint for DynamoDB): needed when the subnets have no NAT. Pass false when
   * the VPC already has them (two interface endpoints with private DNS for one service in one VPC
   * fail to deploy).
   * @default true for `private`, false otherwise (the VPC's NAT reaches the public AWS endpoints)
   */
  readonly createVpcEndpoints?: boolean;
}

/**
 * The actions Lambda needs of a function's execution role to attach it to a VPC (those of the AWS
 * managed policy AWSLambdaVPCAccessExecutionRole, without its log actions). They have no resource
 * types: "*" is the only resource.
 */
export const VPC_ENI_ACTIONS: readonly string[] = [
  'ec2:AssignPrivateIpAddresses',
  'ec2:CreateNetworkInterface',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:UnassignPrivateIpAddresses',
];

/**
 * The VPC endpoint of each AWS service the functions' code calls, by the IAM prefix of its actions:
 * an interface endpoint (`com.amazonaws.<region>.<name>`), or DynamoDB's gateway endpoint. A task
 * that starts to call a service not listed here fails synthesis in a VPC, so the list is decided,
 * not forgotten. No STS: the EKS token is a presigned STS URL that EKS checks, the function never
 * sends it; no CloudWatch Logs: the functions write to stdout and Lambda delivers the logs.
 */
export const VPC_ENDPOINT_OF: Readonly<Record<string, { kind: 'interface' | 'gateway'; name: string }>> = {
  dynamodb: { kind: 'gateway', name: 'dynamodb' },
  sns: { kind: 'interface', name: 'sns' },
  cloudwatch: { kind: 'interface', name: 'monitoring' },
  states: { kind: 'interface', name: 'states' },
  eks: { kind: 'interface', name: 'eks' },
  codepipeline: { kind: 'interface', name: 'codepipeline' },
  rds: { kind: 'interface', name: 'rds' },
  lambda: { kind: 'interface', name: 'lambda' },
};

/**
 * The VPC endpoints `tasks` need: one per AWS service their grants (functions/contract/permissions.ts)
 * call, leaving out the targets with nothing to grant on (`granted(target)` false: no pipelines,
 * no databases in the catalog). Sorted by name.
 */
export function endpointsFor(
  tasks: readonly TaskKey[],
  granted: (target: GrantTarget) => boolean,
): { kind: 'interface' | 'gateway'; name: string }[] {
  const prefixes = new Set(
    tasks
      .flatMap((t) => taskGrants(t).filter((g) => granted(g.on)))
      .flatMap((g) => g.actions.map((a) => a.split(':')[0]!)),
  );
  const unknown = [...prefixes].filter((p) => !Object.hasOwn(VPC_ENDPOINT_OF, p));
  if (unknown.length > 0) {
    throw new Error(
      `TaskNetwork: the cluster tasks call ${unknown.join(', ')}, which has no VPC endpoint in VPC_ENDPOINT_OF (infra/constructs/task-network.ts). Add its endpoint there.`,
    );
  }
  return [...prefixes].map((p) => VPC_ENDPOINT_OF[p]!).sort((a, b) => a.name.localeCompare(b.name));
}

/** What a function in the network is built with (NodejsFunction's vpc props). */
export interface FunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
}

/** Props of {@link TaskNetwork}. */
export interface TaskNetworkProps {
  /** The network as the stack was given it. */
  readonly network: ReleaseNetwork;
  /** The VPC endpoints the functions in the VPC call AWS through ({@link endpointsFor}). */
  readonly endpoints: readonly { kind: 'interface' | 'gateway'; name: string }[];
}

/**
 * Checks a {@link ReleaseNetwork} and returns every problem, each naming the field, the value and
 * the fix. Subnets are checked as far as synthesis can tell (IDs that are tokens are not compared).
 */
export function networkProblems(network: ReleaseNetwork): string[] {
  const problems: string[] = [];
  const mode = network.endpointAccess;
  if (!ENDPOINT_ACCESS_MODES.includes(mode)) {
    return [
      `network.endpointAccess is "${String(mode)}"; it must be one of ${ENDPOINT_ACCESS_MODES.map((m) => `"${m}"`).join(', ')} (the cluster's API endpoint access in EKS)`,
    ];
  }
  const { vpc } = network;
  if (!vpc) {
    if (mode !== 'public') {
      problems.push(
        `network.vpc is missing, but network.endpointAccess is "${mode}": the functions that reach the cluster must run in the cluster's VPC to use its private endpoint. Pass the cluster's VPC as network.vpc (e.g. ec2.Vpc.fromLookup or ec2.Vpc.fromVpcAttributes)`,
      );
    }
    for (const field of ['vpcSubnets', 'securityGroups', 'createVpcEndpoints'] as const) {
      if (network[field] !== undefined) {
        problems.push(
          `network.${field} is set but network.vpc is not: without a VPC the functions run outside any VPC. Pass network.vpc, or remove network.${field}`,
        );
      }
    }
    return problems;
  }
  if (network.securityGroups !== undefined && network.securityGroups.length === 0) {
    problems.push(
      'network.securityGroups is an empty list; a function in a VPC needs at least one security group. Leave it out to have one created (egress TCP 443), or pass yours',
    );
  }
  const known = (subnets: readonly ec2.ISubnet[]) =>
    subnets.map((s) => s.subnetId).filter((id) => !Token.isUnresolved(id));
  const inVpc = new Set([
    ...known(vpc.publicSubnets),
    ...known(vpc.privateSubnets),
    ...known(vpc.isolatedSubnets),
  ]);
  const given = network.vpcSubnets?.subnets ?? [];
  const foreign = known(given).filter((id) => inVpc.size > 0 && !inVpc.has(id));
  if (foreign.length > 0) {
    problems.push(
      `network.vpcSubnets names subnets that are not in network.vpc (${vpcLabel(vpc)}): ${foreign.join(', ')}. Pick subnets of the VPC (vpc.privateSubnets), or pass the VPC they belong to`,
    );
    return problems;
  }
  let selected: ec2.SelectedSubnets;
  try {
    selected = vpc.selectSubnets(network.vpcSubnets);
  } catch (err) {
    problems.push(
      `network.vpcSubnets selects nothing in network.vpc (${vpcLabel(vpc)}): ${(err as Error).message}. Pass a selection of its private subnets, e.g. { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }`,
    );
    return problems;
  }
  if (selected.subnetIds.length === 0) {
    problems.push(
      `network.vpcSubnets selects no subnet of network.vpc (${vpcLabel(vpc)}). Pass a selection of its private subnets`,
    );
  }
  const publicIds = new Set(known(vpc.publicSubnets));
  const publicPicked = selected.subnetIds.filter((id) => publicIds.has(id));
  if (publicPicked.length > 0) {
    problems.push(
      `network.vpcSubnets selects public subnets (${publicPicked.join(', ')}): a function there gets no public address and reaches nothing outside the VPC. Select private subnets, e.g. { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }`,
    );
  }
  return problems;
}

function vpcLabel(vpc: ec2.IVpc): string {
  return Token.isUnresolved(vpc.vpcId) ? vpc.node.path : vpc.vpcId;
}

/**
 * The network of the functions that reach the cluster: their security group (unless given) and,
 * when asked, the VPC endpoints they call AWS through, in the given subnets. The endpoints share
 * one security group that lets in TCP 443 from the functions' security groups only.
 */
export class TaskNetwork extends Construct {
  /** How the functions in the VPC are built; undefined when there is no VPC. */
  readonly functionNetwork?: FunctionNetwork;
  /** The security group created for the functions (none when they were given, or no VPC). */
  readonly securityGroup?: ec2.SecurityGroup;
  /** The VPC endpoints created, by endpoint name (`eks`, `dynamodb`, ...). */
  readonly endpoints: Readonly<Record<string, ec2.InterfaceVpcEndpoint | ec2.GatewayVpcEndpoint>>;

  constructor(scope: Construct, id: string, props: TaskNetworkProps) {
    super(scope, id);
    const { network } = props;
    const problems = networkProblems(network);
    if (problems.length > 0) throw new Error(`ReleaseStack: ${problems.join('; ')}.`);
    const endpoints: Record<string, ec2.InterfaceVpcEndpoint | ec2.GatewayVpcEndpoint> = {};
    this.endpoints = endpoints;
    const { vpc } = network;
    if (!vpc) return;

    let securityGroups: ec2.ISecurityGroup[];
    if (network.securityGroups) {
      securityGroups = [...network.securityGroups];
    } else {
      this.securityGroup = new ec2.SecurityGroup(this, 'ClusterTasks', {
        vpc,
        description: 'tps-deploy cluster tasks: HTTPS out to the EKS API and the AWS endpoints only',
        allowAllOutbound: false,
      });
      // The DynamoDB gateway endpoint's addresses are a regional prefix list whose ID is known only
      // in the account, and a NAT's targets are public: 443 to anywhere, the routes decide where.
      this.securityGroup.addEgressRule(
        ec2.Peer.anyIpv4(),
        ec2.Port.tcp(443),
        'HTTPS to the EKS API endpoint and the AWS service endpoints',
      );
      securityGroups = [this.securityGroup];
    }
    const vpcSubnets = network.vpcSubnets ?? {};
    this.functionNetwork = { vpc, vpcSubnets, securityGroups };

    if (!(network.createVpcEndpoints ?? network.endpointAccess === 'private')) return;
    const interfaces = props.endpoints.filter((e) => e.kind === 'interface');
    const endpointGroup =
      interfaces.length === 0
        ? undefined
        : new ec2.SecurityGroup(this, 'Endpoints', {
            vpc,
            description: 'tps-deploy VPC endpoints: HTTPS in from the cluster tasks only',
            allowAllOutbound: false,
          });
    for (const sg of securityGroups) {
      endpointGroup?.addIngressRule(sg, ec2.Port.tcp(443), 'HTTPS from the tps-deploy cluster tasks');
    }
    for (const e of props.endpoints) {
      const eid = pascalCase(e.name);
      endpoints[e.name] =
        e.kind === 'gateway'
          ? new ec2.GatewayVpcEndpoint(this, eid, {
              vpc,
              service: new ec2.GatewayVpcEndpointAwsService(e.name),
              subnets: [vpcSubnets],
            })
          : new ec2.InterfaceVpcEndpoint(this, eid, {
              vpc,
              service: new ec2.InterfaceVpcEndpointAwsService(e.name),
              subnets: { ...vpcSubnets, onePerAz: true },
              securityGroups: [endpointGroup!],
              privateDnsEnabled: true,
              open: false,
            });
    }
  }
}
