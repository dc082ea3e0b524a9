/**
 * The doctor's AWS adapters: who the credentials are (STS GetCallerIdentity) and what EKS says of
 * each cluster (DescribeCluster, DescribeAccessEntry). Only reads.
 */
import { DescribeAccessEntryCommand, DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import type { CallerIdentity, ClusterFacts, EksPort } from './ports.js';

/** STS GetCallerIdentity: needs no permission, so it fails only for credentials (or the network). */
export async function callerIdentity(client: STSClient): Promise<CallerIdentity> {
  const out = await client.send(new GetCallerIdentityCommand({}));
  if (!out.Account || !out.Arn) throw new Error('GetCallerIdentity answered without Account or Arn');
  return { account: out.Account, arn: out.Arn };
}

/** EKS reads for the endpoint and access-entry checks; each cluster is described once per run. */
export class EksClusterReader implements EksPort {
  private readonly described = new Map<string, Promise<ClusterFacts>>();

  /** `clientFor(region)`: the EKS client of a cluster's region. */
  constructor(private readonly clientFor: (region: string) => EKSClient) {}

  describeCluster(name: string, region: string): Promise<ClusterFacts> {
    const key = `${region}/${name}`;
    let facts = this.described.get(key);
    if (!facts) {
      facts = this.clientFor(region)
        .send(new DescribeClusterCommand({ name }))
        .then(({ cluster }) => {
          if (!cluster) throw new Error(`DescribeCluster ${name} answered without a cluster`);
          const vpc = cluster.resourcesVpcConfig;
          return {
            status: cluster.status ?? 'UNKNOWN',
            endpointPublicAccess: vpc?.endpointPublicAccess ?? false,
            endpointPrivateAccess: vpc?.endpointPrivateAccess ?? false,
            publicAccessCidrs: vpc?.publicAccessCidrs ?? [],
            authenticationMode: cluster.accessConfig?.authenticationMode ?? null,
            vpcId: vpc?.vpcId ?? null,
          };
        });
      this.described.set(key, facts);
    }
    return facts;
  }

  async accessEntryGroups(
    cluster: string,
    region: string,
    principalArn: string,
  ): Promise<readonly string[] | null> {
    try {
      const { accessEntry } = await this.clientFor(region).send(
        new DescribeAccessEntryCommand({ clusterName: cluster, principalArn }),
      );
      return accessEntry?.kubernetesGroups ?? [];
    } catch (error) {
      if ((error as { name?: string }).name === 'ResourceNotFoundException') return null;
      throw error;
    }
  }
}
