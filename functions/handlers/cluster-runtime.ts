import { EKSClient } from '@aws-sdk/client-eks';
import { EksKubeConfigProvider } from '../adapters/aws/eks-auth.js';
import { createKubeClients } from '../adapters/kubernetes/client.js';
import { kubeWorkloads } from '../adapters/kubernetes/workloads-factory.js';
import type { WorkloadsFactory } from '../compose.js';

/**
 * Cluster access on EKS: DescribeCluster + an aws-iam-authenticator token (cached while a task
 * started now ends before it expires, signed again when the API server refuses it), then the
 * Kubernetes adapters. Only the handlers of tasks that act on the cluster import this, so
 * the others are bundled without @kubernetes/client-node.
 */
export function eksWorkloads(): WorkloadsFactory {
  const eks = new EksKubeConfigProvider({ client: new EKSClient({}) });
  return async (svc) => kubeWorkloads(svc, createKubeClients(await eks.access(svc.cluster.name)));
}
