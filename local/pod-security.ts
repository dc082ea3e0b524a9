/**
 * The PodSecurity admission of the local cluster's release namespaces. The kube-apiserver runs
 * the PodSecurity admission plugin (on by default since Kubernetes 1.25; the local control plane
 * keeps the default plugins), which reads these namespace labels: at `enforce: restricted` it
 * refuses every pod that does not meet the restricted profile. The release namespaces of the
 * tests and the demo carry them, so the Jobs tps-deploy creates there are proven to comply.
 */
import type { V1Container, V1PodSecurityContext } from '@kubernetes/client-node';

/** Namespace labels: enforce (and warn and audit) the restricted profile of the running version. */
export const RESTRICTED_NAMESPACE_LABELS = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
} as const;

/** A pod security context the restricted profile admits (the sample workloads use it). */
export const RESTRICTED_POD_SECURITY_CONTEXT: V1PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: 10001,
  seccompProfile: { type: 'RuntimeDefault' },
};

/** A container security context the restricted profile admits. */
export function restrictedContainerSecurityContext(): V1Container['securityContext'] {
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
}
