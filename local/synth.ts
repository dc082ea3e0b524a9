/**
 * Synthesizes the real CDK app (infra/build-app.ts, cdk-nag on) without bundling the functions,
 * and turns the state machines of the template back into runnable ASL. Used by the infra tests
 * and by the local runner, which runs the same ASL with aws-local-stepfunctions.
 */
import type { App, Environment } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TASK_ENV, TASK_KEYS, type TaskKey } from '../functions/contract/tasks.js';
import { type CatalogInput, parseCatalog } from '../functions/domain/config.js';
import { buildApp } from '../infra/build-app.js';
import type { ReleaseNetwork } from '../infra/constructs/task-network.js';
import type { ReleaseStack, ReleaseStackProps } from '../infra/release-stack.js';
import sampleCatalog from '../tps.config.js';
import { PLACEHOLDER } from './placeholder.js';

/** A synthesized CloudFormation template as JSON. */
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, unknown>;
  readonly Rules?: Record<string, unknown>;
  readonly [section: string]: unknown;
}

/** One resource of a {@link CfnTemplate}. */
export interface CfnResource {
  readonly Type: string;
  // biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties are free-form JSON
  readonly Properties?: Record<string, any>;
  readonly [attribute: string]: unknown;
}

/** A state machine definition (Amazon States Language) as JSON. */
// biome-ignore lint/suspicious/noExplicitAny: ASL is free-form JSON
export type Asl = Record<string, any>;

/** Placeholder account, region and partition used where the template has pseudo parameters. */
export { PLACEHOLDER };

/** Options of {@link synthStack} and {@link synthTemplate}. */
export interface SynthOptions {
  /** The catalog (unparsed, as in tps.config.ts). @default the sample catalog of tps.config.ts */
  readonly catalog?: CatalogInput;
  /** Account and region. @default environment-agnostic */
  readonly env?: Environment;
  /** Stack props other than the catalog. */
  readonly stackProps?: Omit<ReleaseStackProps, 'catalog'>;
  /** Builds the network in the app before the stack (buildApp's `network`). @default none */
  readonly network?: (app: App) => ReleaseNetwork;
}

/**
 * Builds the app with bundling skipped (`aws:cdk:bundling-stacks: []`) and returns the stack
 * and its assertions Template. cdk-nag runs: any unacknowledged finding makes this throw.
 */
export function synthStack(options: SynthOptions = {}): { stack: ReleaseStack; template: Template } {
  const { stack } = buildApp({
    catalog: parseCatalog(options.catalog ?? sampleCatalog),
    appProps: { context: { 'aws:cdk:bundling-stacks': [] } },
    env: options.env ?? {},
    stackProps: options.stackProps,
    network: options.network,
  });
  return { stack, template: Template.fromStack(stack) };
}

const cache = new Map<string, CfnTemplate>();

/**
 * The synthesized template of the sample catalog (or of `options`) as JSON. Each distinct set of
 * options is synthesized once per process; the result is shared, so copy it before changing it.
 */
export function synthTemplate(options: SynthOptions = {}): CfnTemplate {
  // A network (a builder function, or a VPC construct in stackProps) has no JSON key: not cached.
  if (options.network || options.stackProps?.network)
    return synthStack(options).template.toJSON() as CfnTemplate;
  const key = JSON.stringify(options);
  let json = cache.get(key);
  if (!json) {
    json = synthStack(options).template.toJSON() as CfnTemplate;
    cache.set(key, json);
  }
  return json;
}

/** The placeholder ARN that stands for the Lambda function with this logical ID in extracted ASL. */
export function functionArnFor(logicalId: string): string {
  return `arn:${PLACEHOLDER.partition}:lambda:${PLACEHOLDER.region}:${PLACEHOLDER.account}:function:${logicalId}`;
}

/** Logical IDs of the template's resources of one type. */
export function resourcesOfType(template: CfnTemplate, type: string): string[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id]) => id);
}

/**
 * The task (`TPS_TASK`) of each Lambda function of the template, by logical ID. Only the task
 * functions carry `TPS_TASK`; other functions (CDK helpers) are left out.
 */
export function functionTasks(template: CfnTemplate): Record<string, TaskKey> {
  const out: Record<string, TaskKey> = {};
  for (const id of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const task = template.Resources[id]?.Properties?.Environment?.Variables?.[TASK_ENV];
    if (typeof task === 'string' && (TASK_KEYS as readonly string[]).includes(task))
      out[id] = task as TaskKey;
  }
  return out;
}

/**
 * The task behind a function ARN or name as it appears in extracted ASL (a placeholder ARN from
 * {@link functionArnFor}, optionally with a version or alias suffix). Throws for anything else.
 */
export function taskOfFunction(template: CfnTemplate, arnOrLogicalId: string): TaskKey {
  const tasks = functionTasks(template);
  const prefix = functionArnFor('');
  const logicalId = arnOrLogicalId.startsWith(prefix)
    ? (arnOrLogicalId.slice(prefix.length).split(':')[0] ?? '')
    : arnOrLogicalId;
  const task = tasks[logicalId];
  if (!task) {
    throw new Error(
      `taskOfFunction: ${arnOrLogicalId} is not a task function of the template (${Object.keys(tasks).join(', ')})`,
    );
  }
  return task;
}

/**
 * The ASL of one state machine, by logical ID or by service name (the state machine named
 * `<appName>-<service>`). `Fn::Join` parts are joined; `Fn::GetAtt [X, Arn]` becomes
 * {@link functionArnFor}(X) and pseudo parameters become {@link PLACEHOLDER} values.
 */
export function extractAsl(template: CfnTemplate, stateMachineLogicalIdOrService: string): Asl {
  const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  let id = machines.find((m) => m === stateMachineLogicalIdOrService);
  if (!id) {
    const named = machines.filter((m) => {
      const name = template.Resources[m]?.Properties?.StateMachineName;
      return typeof name === 'string' && name.endsWith(`-${stateMachineLogicalIdOrService}`);
    });
    if (named.length > 1) {
      throw new Error(
        `extractAsl: several state machines match service "${stateMachineLogicalIdOrService}" (${named.join(', ')}); pass a logical ID`,
      );
    }
    id = named[0];
  }
  if (!id) {
    const names = machines.map((m) => `${m} (${template.Resources[m]?.Properties?.StateMachineName})`);
    throw new Error(
      `extractAsl: no state machine "${stateMachineLogicalIdOrService}"; the template has ${names.join(', ')}`,
    );
  }
  const definition = template.Resources[id]?.Properties?.DefinitionString;
  return JSON.parse(resolveString(definition));
}

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation intrinsic functions are free-form JSON
function resolveString(value: any): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    if (Array.isArray(value['Fn::Join'])) {
      const [sep, parts] = value['Fn::Join'] as [string, unknown[]];
      return parts.map(resolveString).join(sep);
    }
    if (Array.isArray(value['Fn::GetAtt'])) {
      const [logicalId, attr] = value['Fn::GetAtt'] as [string, string];
      if (attr !== 'Arn')
        throw new Error(`extractAsl: unsupported Fn::GetAtt attribute ${logicalId}.${attr}`);
      return functionArnFor(logicalId);
    }
    if (typeof value.Ref === 'string') {
      const pseudo: Record<string, string> = {
        'AWS::Partition': PLACEHOLDER.partition,
        'AWS::Region': PLACEHOLDER.region,
        'AWS::AccountId': PLACEHOLDER.account,
        'AWS::URLSuffix': 'amazonaws.com',
      };
      return pseudo[value.Ref] ?? functionArnFor(value.Ref);
    }
  }
  throw new Error(`extractAsl: cannot resolve ${JSON.stringify(value)} in a state machine definition`);
}
