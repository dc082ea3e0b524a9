import { App, type AppProps, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Catalog } from '../functions/domain/config.js';
import type { ReleaseNetwork } from './constructs/task-network.js';
import { ReleaseStack, type ReleaseStackProps } from './release-stack.js';

/** Construct ID of the stack (its CloudFormation name is the catalog's appName). */
export const STACK_ID = 'TpsDeploy';

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  /** The parsed catalog. */
  readonly catalog: Catalog;
  /** Props of the App (context, outdir). @default {} */
  readonly appProps?: AppProps;
  /** Stack props other than the catalog. @default {} */
  readonly stackProps?: Omit<ReleaseStackProps, 'catalog'>;
  /**
   * Account and region of the stack; `{}` makes it environment-agnostic.
   * @default CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION when set, else environment-agnostic
   */
  readonly env?: Environment;
  /**
   * Builds `stackProps.network` in the app before the stack exists, for a VPC that lives in a
   * stack of its own (an ec2.Vpc, or ec2.Vpc.fromLookup in a small stack of the same env).
   * @default stackProps.network
   */
  readonly network?: (app: App) => ReleaseNetwork;
  /** Run the cdk-nag AWS Solutions checks at synth. @default true */
  readonly nag?: boolean;
}

/**
 * The CDK app: one {@link ReleaseStack} named after the catalog's appName, checked by cdk-nag's
 * AWS Solutions pack (a finding fails synth). infra/app.ts and the infra tests both build it here.
 *
 * The account and region come from CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION when the CDK CLI
 * found credentials; without them the stack is environment-agnostic and still synthesizes.
 */
export function buildApp(options: BuildAppOptions): { app: App; stack: ReleaseStack } {
  const app = new App(options.appProps ?? {});
  const env = options.env ?? envFromProcess();
  const stack = new ReleaseStack(app, STACK_ID, {
    stackName: options.catalog.appName,
    description: `tps-deploy (${options.catalog.appName}): release runbook pipelines for services on Amazon EKS`,
    ...(env.account || env.region ? { env } : {}),
    ...options.stackProps,
    ...(options.network ? { network: options.network(app) } : {}),
    catalog: options.catalog,
  });
  if (options.nag ?? true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  }
  return { app, stack };
}

/** The environment the CDK CLI resolved from the credentials, if any. */
function envFromProcess(): Environment {
  return {
    ...(process.env.CDK_DEFAULT_ACCOUNT ? { account: process.env.CDK_DEFAULT_ACCOUNT } : {}),
    ...(process.env.CDK_DEFAULT_REGION ? { region: process.env.CDK_DEFAULT_REGION } : {}),
  };
}
