/**
 * Physical names of the AWS resources the stack creates. They are derived from the catalog's
 * `appName` (and the service name) so that the functions, the CLI and the docs can find a resource
 * without reading stack outputs, and so that IAM policies can name a resource before it exists
 * (which avoids dependency cycles between the functions and the state machines that invoke them).
 *
 * This module has no CDK imports: the functions and the CLI may import it.
 */
export { type AlarmSignal, alarmName } from '../functions/domain/alarms.js';

/**
 * The single Kubernetes group the stack's EKS access entry still uses.
 * @deprecated infra/k8s/tps-deploy-role.yaml no longer binds it: it binds {@link kubernetesGroup}
 * of each access, which the access entries must use instead.
 */
export const K8S_GROUP = 'tps-deploy';

/**
 * The Kubernetes group of one app's functions of one cluster access (`read` or `write`, as
 * functions/contract/tasks.ts CLUSTER_ACCESS assigns it): `tps-deploy-<appName>-<access>`. The
 * RoleBindings of infra/k8s/tps-deploy-role.yaml bind exactly these two groups, so two apps in one
 * cluster never act in each other's namespaces.
 */
export function kubernetesGroup(appName: string, access: 'read' | 'write'): string {
  return `tps-deploy-${appName}-${access}`;
}

/** Name of the release state machine of one service: `<appName>-<service>`. */
export function stateMachineName(appName: string, service: string): string {
  return `${appName}-${service}`;
}

/** Name of the deployments table: `<appName>-deployments`. */
export function tableName(appName: string): string {
  return `${appName}-deployments`;
}

/** Name of the notifications topic: `<appName>-notifications`. */
export function topicName(appName: string): string {
  return `${appName}-notifications`;
}

/** Name of a service's dashboard: `<appName>-<service>`. */
export function dashboardName(appName: string, service: string): string {
  return `${appName}-${service}`;
}

/**
 * Log group of a service's state machine. The `/aws/vendedlogs/` prefix keeps CloudWatch Logs
 * resource policies small (Step Functions' documented recommendation).
 */
export function stateMachineLogGroupName(appName: string, service: string): string {
  return `/aws/vendedlogs/states/${stateMachineName(appName, service)}`;
}
