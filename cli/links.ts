/**
 * AWS console links for a release, pure (no AWS calls): the Step Functions execution, the
 * service's CloudWatch dashboard (infra/constructs/service-dashboard.ts, named
 * `<appName>-<service>`) and the state machine's log group
 * (`/aws/vendedlogs/states/<appName>-<service>`, infra/names.ts). The task functions' log groups
 * get names CloudFormation generates, so no link to them can be derived from the catalog.
 */
import { dashboardName, stateMachineLogGroupName } from '../infra/names.js';

/** The console links of one release; null for an execution with no AWS console (a local run). */
export interface ConsoleLinks {
  readonly execution: string;
  readonly dashboard: string;
  readonly logs: string;
}

/** The region of an execution ARN (`arn:<partition>:states:<region>:...`), or null. */
export function regionOfArn(arn: string): string | null {
  const parts = arn.split(':');
  if (parts[0] !== 'arn' || parts[2] !== 'states' || !parts[3]) return null;
  return parts[3];
}

/** The console host of a region and partition (China and GovCloud have their own). */
function consoleHost(region: string, partition: string): string {
  if (partition === 'aws-cn') return 'console.amazonaws.cn';
  if (partition === 'aws-us-gov') return 'console.amazonaws-us-gov.com';
  return `${region}.console.aws.amazon.com`;
}

/** The Step Functions console page of an execution. */
export function executionUrl(executionArn: string): string | null {
  const region = regionOfArn(executionArn);
  if (!region || region === 'local') return null;
  const host = consoleHost(region, executionArn.split(':')[1] ?? 'aws');
  return `https://${host}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** The CloudWatch console page of a dashboard. */
export function dashboardUrl(region: string, name: string, partition = 'aws'): string {
  return `https://${consoleHost(region, partition)}/cloudwatch/home?region=${region}#dashboards/dashboard/${encodeURIComponent(name)}`;
}

/**
 * The CloudWatch Logs console page of a log group. The console's fragment encodes the name twice
 * and writes `%` as `$` (`/aws/x` is `$252Faws$252Fx`).
 */
export function logGroupUrl(region: string, logGroupName: string, partition = 'aws'): string {
  const name = encodeURIComponent(encodeURIComponent(logGroupName)).replace(/%/g, '$');
  return `https://${consoleHost(region, partition)}/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${name}`;
}

/**
 * Every console link of a service's release; null when the ARN is local or not an execution's.
 * `dashboard` is the dashboard's name when known (a stack's output names it).
 * @default dashboard `<appName>-<service>`
 */
export function consoleLinks(
  executionArn: string | null,
  appName: string,
  service: string,
  dashboard: string = dashboardName(appName, service),
): ConsoleLinks | null {
  if (!executionArn) return null;
  const execution = executionUrl(executionArn);
  const region = regionOfArn(executionArn);
  if (!execution || !region) return null;
  const partition = executionArn.split(':')[1] ?? 'aws';
  return {
    execution,
    dashboard: dashboardUrl(region, dashboard, partition),
    logs: logGroupUrl(region, stateMachineLogGroupName(appName, service), partition),
  };
}

/** The links as indented text lines. */
export function linkLines(links: ConsoleLinks | null, indent = '  '): string[] {
  if (!links) return [];
  return [
    `${indent}console:   ${links.execution}`,
    `${indent}dashboard: ${links.dashboard}`,
    `${indent}logs:      ${links.logs}`,
  ];
}
