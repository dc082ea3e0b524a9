/**
 * `tps-deploy doctor [--service S]`: checks everything a first release needs against the real
 * environment and prints one line per check, `PASS|FAIL|SKIP <check> [<subject>]: <detail>`, with
 * the fix under every FAIL (cli/doctor/checks.ts lists the checks). Exit 1 when any check fails.
 *
 * It reads only: STS, CloudFormation, EKS, CloudWatch, the clusters (as the person running it,
 * through EKS or `--kubeconfig`) and the on-call endpoint. A stack that gives no runbook is the
 * `stack` check's FAIL, not an error: the other checks still run (with `--config`, on its catalog).
 */

import { CloudWatchAlarmStates } from '../../functions/adapters/aws/alarm-states.js';
import { HttpOnCallDirectory } from '../../functions/adapters/http-oncall.js';
import { createMetricsSource } from '../../functions/adapters/metrics-factory.js';
import type { Catalog } from '../../functions/domain/config.js';
import { cliClusters } from '../aws-ports.js';
import type { CliContext } from '../context.js';
import { callerIdentity, EksClusterReader } from '../doctor/aws.js';
import { runChecks } from '../doctor/checks.js';
import { clusterProbe, shippedRolePermissions } from '../doctor/kube.js';
import type { CheckResult, DoctorPorts, DoctorScope } from '../doctor/ports.js';
import { CliError, EXIT_CODES, type ExitCode, line } from '../io.js';
import { catalogOfRunbook, RunbookSourceError } from '../runbook-source.js';

export interface DoctorOptions {
  /** Only this service (and its cluster and namespace). @default every service of the catalog */
  readonly service?: string;
  /** Read the clusters through this kubeconfig instead of EKS. */
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly json?: boolean;
}

/** What the checks work on: the stack's output (or why not), the catalog, the services. */
export async function doctorScope(ctx: CliContext, opts: DoctorOptions): Promise<DoctorScope> {
  const stackName = ctx.stackName();
  let runbook: DoctorScope['runbook'] = null;
  if (stackName) {
    try {
      runbook = { ok: true, value: (await ctx.runbook())! };
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      runbook = {
        ok: false,
        error: error.message,
        problem: error instanceof RunbookSourceError ? error.problem : 'aws',
      };
    }
  }
  // Without a readable stack only a catalog given explicitly counts (never ./tps.config.ts in
  // its place); without --stack, the catalog as every command finds it (or the refusal).
  let catalog: Catalog | null;
  // With a readable stack, the catalog the deployed functions run with (a --config beside it is
  // checked to be the same app, then set aside: the clusters and alarms in use are the stack's).
  if (runbook && !runbook.ok) catalog = (await ctx.givenCatalog())?.catalog ?? null;
  else if (runbook?.ok) {
    await ctx.catalog();
    catalog = catalogOfRunbook(stackName!, runbook.value, ctx.stackFlag());
  } else catalog = await ctx.catalog();
  if (opts.service) {
    if (!catalog) {
      throw new CliError(
        `--service ${opts.service}: no catalog to find it in (the stack gives none); pass --config <file>`,
        EXIT_CODES.usage,
      );
    }
    if (!Object.hasOwn(catalog.services, opts.service)) {
      throw new CliError(
        `--service: unknown service "${opts.service}"; the catalog has ${Object.keys(catalog.services).join(', ')}`,
        EXIT_CODES.usage,
      );
    }
  }
  const services = catalog
    ? Object.entries(catalog.services).filter(([name]) => !opts.service || name === opts.service)
    : [];
  return { stackName, runbook, catalog, services, region: ctx.region() ?? null };
}

/** The real ports, from the CLI's clients and `--kubeconfig`. */
export function doctorPorts(ctx: CliContext, opts: DoctorOptions, catalog: Catalog | null): DoctorPorts {
  const connect = cliClusters(ctx, opts);
  const onCall = new HttpOnCallDirectory();
  return {
    whoAmI: () => callerIdentity(ctx.sts),
    eks: new EksClusterReader((region) => ctx.eksIn(region)),
    cluster: async (svc) => clusterProbe(await connect(svc)),
    requiredPermissions: (appName) => shippedRolePermissions(appName),
    alarms: new CloudWatchAlarmStates({ client: ctx.cloudwatch }),
    metrics: (svc) =>
      createMetricsSource(svc, ctx.now(), {
        catalog: catalog ?? { appName: 'tps-deploy', services: {} },
        cloudwatch: ctx.cloudwatch,
      }),
    onCall: { whoIsOnCall: (endpoint) => onCall.whoIsOnCall(endpoint) },
    clock: { now: () => ctx.now() },
  };
}

/** One line per check: `PASS|FAIL|SKIP <check> [<subject>]: <detail>`, the fix indented under a FAIL. */
export function checkLines(results: readonly CheckResult[]): string[] {
  return results.flatMap((r) => [
    `${r.status} ${r.check}${r.subject ? ` ${r.subject}` : ''}: ${r.detail}`,
    ...(r.status === 'FAIL' && r.fix ? [`     fix: ${r.fix}`] : []),
  ]);
}

export async function doctorCommand(ctx: CliContext, opts: DoctorOptions): Promise<ExitCode> {
  const scope = await doctorScope(ctx, opts);
  const results = await runChecks(doctorPorts(ctx, opts, scope.catalog), scope);
  const failed = results.filter((r) => r.status === 'FAIL').length;
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  if (opts.json) {
    line(
      ctx.io.stdout,
      JSON.stringify(
        {
          ok: failed === 0,
          stack: scope.stackName,
          service: opts.service ?? null,
          checks: results,
        },
        null,
        2,
      ),
    );
  } else {
    for (const l of checkLines(results)) line(ctx.io.stdout, l);
    line(
      ctx.io.stdout,
      `${results.length} checks: ${count('PASS')} passed, ${failed} failed, ${count('SKIP')} skipped`,
    );
  }
  return failed > 0 ? EXIT_CODES.failed : EXIT_CODES.ok;
}
