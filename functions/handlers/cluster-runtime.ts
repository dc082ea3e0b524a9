import { EKSClient } from '@aws-sdk/client-eks';
import { EksKubeConfigProvider } from '../adapters/aws/eks-auth.js';
import { createKubeClients } from '../adapters/kubernetes/client.js';
import { KubernetesClusterClient } from '../adapters/kubernetes/cluster-client.js';
import { KubernetesJobRunner } from '../adapters/kubernetes/jobs.js';
import { createRouter } from '../adapters/kubernetes/router-factory.js';
import { jobPodLabels } from '../release/runbook-support.js';
import type { WorkloadsFactory } from './aws-runtime.js';

/**
 * Cluster access on EKS: DescribeCluster + an aws-iam-authenticator token (cached while valid),
 * then the Kubernetes adapters. Only the handlers of tasks that act on the cluster import this.
 */
export const eksWorkloads: WorkloadsFactory = () => {
  const eks = new EksKubeConfigProvider({ client: new EKSClient({}) });
  return async (svc) => {
    const kc = await eks.kubeConfig(svc.cluster.name);
    const clients = createKubeClients(kc);
    return {
      cluster: new KubernetesClusterClient(clients),
      router: createRouter(svc.router, clients),
      jobs: new KubernetesJobRunner(clients, jobPodLabels),
    };
  };
};
