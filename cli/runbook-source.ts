/**
 * The deployed runbook a `--stack <name>` names: DescribeStacks, the `TpsDeployRunbook` output
 * (functions/contract/runbook-output.ts), parsed. From it the CLI knows the app, its region, the
 * table, the answer endpoint, each service's state machine and dashboard, and the catalog the
 * functions run with, without the repository's catalog file.
 *
 * A stack that cannot give a runbook (none of that name, no such output, an output of another
 * shape) is a bad `--stack` value: a CliError with the usage exit code naming the stack, its
 * region and what to check. Failures of the call itself (credentials, permissions, throttling)
 * are the caller's to report (CliContext.aws).
 */
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  parseRunbookOutput,
  RUNBOOK_OUTPUT_KEY,
  type RunbookOutput,
} from '../functions/contract/runbook-output.js';
import { type Catalog, parseCatalog } from '../functions/domain/config.js';
import { ConfigError } from '../functions/domain/errors.js';
import { CliError, EXIT_CODES } from './io.js';

/** The environment variable that names the stack when `--stack` is not given. */
export const STACK_ENV = 'TPS_STACK';

/** Why a stack gives no runbook. */
export type RunbookProblem = 'no-stack' | 'no-output' | 'unparseable';

/** A stack that gives no runbook: a bad `--stack` value (exit 2), with what is wrong. */
export class RunbookSourceError extends CliError {
  constructor(
    readonly problem: RunbookProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, EXIT_CODES.usage, options);
  }
}

/** True for DescribeStacks' answer to a stack name it does not know (a ValidationError). */
function isNoSuchStack(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e?.name === 'ValidationError' && /does not exist/.test(e.message ?? '');
}

/**
 * Reads and parses the runbook output of `stackName`. `call` wraps the AWS call (the CLI's error
 * reporting); `where` names the region for messages.
 */
export async function describeRunbook(
  client: CloudFormationClient,
  stackName: string,
  where: string,
  call: <T>(what: string, fn: () => Promise<T>) => Promise<T> = (_what, fn) => fn(),
  /** Where the name came from, for messages: `--stack` or TPS_STACK. */
  flag = '--stack',
): Promise<RunbookOutput> {
  const { Stacks: stacks } = await call(`CloudFormation DescribeStacks ${stackName}`, async () => {
    try {
      return await client.send(new DescribeStacksCommand({ StackName: stackName }));
    } catch (error) {
      if (isNoSuchStack(error)) {
        throw new RunbookSourceError(
          'no-stack',
          `${flag}: no stack "${stackName}" in ${where}: check ${flag}, --region and --profile (npx cdk deploy creates the stack named after the catalog's appName)`,
          { cause: error },
        );
      }
      throw error;
    }
  });
  const stack = stacks?.[0];
  if (!stack) {
    throw new RunbookSourceError(
      'no-stack',
      `${flag}: no stack "${stackName}" in ${where}: check ${flag}, --region and --profile`,
    );
  }
  const output = stack.Outputs?.find((o) => o.OutputKey === RUNBOOK_OUTPUT_KEY);
  if (output?.OutputValue === undefined) {
    const outputs = (stack.Outputs ?? []).map((o) => o.OutputKey).filter(Boolean);
    throw new RunbookSourceError(
      'no-output',
      `${flag}: stack "${stackName}" (${stack.StackStatus ?? 'status unknown'}) has no output ${RUNBOOK_OUTPUT_KEY}${outputs.length ? ` (it has ${outputs.join(', ')})` : ''}: is this a tps-deploy stack? deployed with a version that writes ${RUNBOOK_OUTPUT_KEY}? Redeploy it with this version (npx cdk deploy ${stackName}) or pass --config <file>`,
    );
  }
  try {
    return parseRunbookOutput(output.OutputValue);
  } catch (error) {
    throw new RunbookSourceError(
      'unparseable',
      `${flag}: stack "${stackName}": ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** The catalog the stack's functions run with (the output's `catalog`), parsed as the functions parse it. */
export function catalogOfRunbook(stackName: string, runbook: RunbookOutput, flag = '--stack'): Catalog {
  try {
    return parseCatalog(runbook.catalog);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new CliError(
        `${flag}: the catalog in stack "${stackName}"'s ${RUNBOOK_OUTPUT_KEY} output: ${error.message}`,
        EXIT_CODES.usage,
      );
    }
    throw error;
  }
}

/**
 * With both `--config` and `--stack` (the file gives the catalog, the stack the names and ARNs):
 * the services whose settings differ between the file and the catalog the stack was deployed
 * with, sorted, so the CLI can say the deployed functions run with the stack's.
 */
export function differingServices(file: Catalog, deployed: Catalog): string[] {
  const names = [...new Set([...Object.keys(file.services), ...Object.keys(deployed.services)])].sort();
  return names.filter(
    (n) => JSON.stringify(file.services[n] ?? null) !== JSON.stringify(deployed.services[n] ?? null),
  );
}

/**
 * The settings of one service that differ between the file's catalog and the deployed one (its
 * top-level fields, sorted); `(only in the file)` / `(only in the stack)` for a service one lacks.
 */
export function differingFields(file: Catalog, deployed: Catalog, service: string): string[] {
  const a = file.services[service] as Record<string, unknown> | undefined;
  const b = deployed.services[service] as Record<string, unknown> | undefined;
  if (!a && !b) return [];
  if (!b) return ['(only in the file)'];
  if (!a) return ['(only in the stack)'];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => JSON.stringify(a[k] ?? null) !== JSON.stringify(b[k] ?? null));
}
