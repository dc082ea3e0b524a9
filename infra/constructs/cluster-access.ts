import { Aws, CfnRule, Fn, Stack, Token } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { pascalCase } from '../../functions/domain/text.js';

/** An EKS cluster the functions deploy to (not created by this stack). */
export interface ClusterRef {
  readonly name: string;
  readonly region: string;
}

/** One IAM principal that gets into the clusters, and as which Kubernetes groups. */
export interface ClusterPrincipal {
  /** Stable PascalCase ID of the principal (its entries are `<id><Cluster>`). */
  readonly id: string;
  /** The execution role of one task function. */
  readonly role: iam.IRole;
  /** Kubernetes groups of its access entries; the shipped Roles and RoleBindings bind them. */
  readonly kubernetesGroups: readonly string[];
}

/** Props of {@link ClusterAccess}. */
export interface ClusterAccessProps {
  /** The clusters of the catalog's services (duplicates are fine). */
  readonly clusters: readonly ClusterRef[];
  /** The roles that get in, each with its own groups (one access entry per role and cluster). */
  readonly principals: readonly ClusterPrincipal[];
}

/**
 * Gives each principal access to each catalog cluster through an EKS access entry of type
 * STANDARD with no access policy: the role becomes the Kubernetes groups given, and what those
 * groups may do is exactly what the RoleBindings of infra/k8s grant in the namespaces where they
 * are applied. EKS allows one access entry per principal and cluster, so each role has one entry
 * per cluster, with all its groups. The clusters need authentication mode API or
 * API_AND_CONFIG_MAP.
 *
 * AWS::EKS::AccessEntry is regional, so the stack must be deployed in the clusters' region. A
 * stack with a concrete region checks this at synth time; an environment-agnostic stack carries a
 * CloudFormation rule that fails the deployment before any change, naming the region to use.
 */
export class ClusterAccess extends Construct {
  /** Access entries by principal ID, then by cluster name. */
  readonly entries: Readonly<Record<string, Readonly<Record<string, eks.CfnAccessEntry>>>>;

  constructor(scope: Construct, id: string, props: ClusterAccessProps) {
    super(scope, id);
    const empty = props.principals.filter((p) => p.kubernetesGroups.length === 0).map((p) => p.id);
    if (empty.length > 0) {
      throw new Error(
        `ClusterAccess: kubernetesGroups is empty for ${empty.join(', ')}; a STANDARD access entry without groups or policies grants nothing. Pass the groups bound by the shipped Roles (kubernetesGroup in infra/names.ts).`,
      );
    }
    const principalIds = props.principals.map((p) => p.id);
    const twice = principalIds.filter((p, i) => principalIds.indexOf(p) !== i);
    if (twice.length > 0) {
      throw new Error(
        `ClusterAccess: principal IDs ${[...new Set(twice)].join(', ')} are given more than once; EKS allows one access entry per principal and cluster. Give each role once, with all its groups.`,
      );
    }
    const byName = new Map<string, ClusterRef>();
    for (const c of props.clusters) {
      const seen = byName.get(c.name);
      if (seen && seen.region !== c.region) {
        throw new Error(
          `ClusterAccess: cluster "${c.name}" is listed in two regions (${seen.region} and ${c.region}). Give each service the cluster's one region in tps.config.ts.`,
        );
      }
      byName.set(c.name, c);
    }
    const regions = [...new Set([...byName.values()].map((c) => c.region))];
    if (regions.length > 1) {
      throw new Error(
        `ClusterAccess: the catalog's clusters are in several regions (${regions.join(', ')}), but EKS access entries can only be created in the stack's own region. Deploy one tps-deploy app (appName) per region.`,
      );
    }
    const region = regions[0];
    const stackRegion = Stack.of(this).region;
    if (region !== undefined) {
      if (!Token.isUnresolved(stackRegion)) {
        if (stackRegion !== region) {
          throw new Error(
            `ClusterAccess: the stack's region is ${stackRegion} but the catalog's clusters are in ${region}. Deploy with CDK_DEFAULT_REGION=${region} (or AWS_REGION).`,
          );
        }
      } else {
        new CfnRule(this, 'ClusterRegion', {
          assertions: [
            {
              assert: Fn.conditionEquals(Aws.REGION, region),
              assertDescription: `tps-deploy: the catalog's EKS clusters are in ${region}; deploy this stack in ${region}.`,
            },
          ],
        });
      }
    }

    const ids = new Map<string, string>();
    for (const c of byName.values()) {
      const id = pascalCase(c.name);
      const clash = ids.get(id);
      if (clash !== undefined) {
        throw new Error(
          `ClusterAccess: cluster names "${clash}" and "${c.name}" map to the same construct ID ${id}. Rename one of the clusters' entries in tps.config.ts.`,
        );
      }
      ids.set(id, c.name);
    }
    const entries: Record<string, Record<string, eks.CfnAccessEntry>> = {};
    for (const p of props.principals) {
      const mine: Record<string, eks.CfnAccessEntry> = {};
      for (const [clusterId, clusterName] of ids) {
        mine[clusterName] = new eks.CfnAccessEntry(this, `${p.id}${clusterId}`, {
          clusterName,
          principalArn: p.role.roleArn,
          type: 'STANDARD',
          kubernetesGroups: [...p.kubernetesGroups],
        });
      }
      entries[p.id] = mine;
    }
    this.entries = entries;
  }
}
