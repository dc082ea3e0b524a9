/**
 * Physical names of the AWS resources the stack creates. They are derived from the catalog's
 * `appName` (and the service name) so that the functions, the CLI and the docs can find a resource
 * without reading stack outputs, and so that IAM policies can name a resource before it exists
 * (which avoids dependency cycles between the functions and the state machines that invoke them).
 *
 * This module has no CDK imports: the functions and the CLI may import it.
 */
import type { ClusterAccessLevel } from '../functions/contract/tasks.js';

export { type AlarmSignal, alarmName } from '../functions/domain/alarms.js';

/**
 * The Kubernetes group a cluster task's EKS access entry puts its function in:
 * `tps-deploy-<appName>-read` or `tps-deploy-<appName>-write` (functions/contract/tasks.ts
 * `CLUSTER_ACCESS`). The app name keeps two tps-deploy apps in one cluster apart; the shipped
 * Kubernetes Roles bind these groups.
 */
export function kubernetesGroup(appName: string, access: ClusterAccessLevel): string {
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
