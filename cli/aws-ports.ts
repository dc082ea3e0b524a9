/**
 * The release ports for the CLI's `abort` and `rollback`, built by the one composition root
 * (functions/compose.ts) as the Lambda functions' are, from the CLI's clients so
 * `--region`/`--profile` apply and tests can inject them. The cluster comes from EKS
 * (DescribeCluster + a token signed with the caller's credentials) or, with `--kubeconfig`, from a
 * kubeconfig file (a local cluster, or an operator's own access).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { CloudWatchReleaseTelemetry } from '../functions/adapters/aws/cloudwatch-telemetry.js';
import { EksKubeConfigProvider } from '../functions/adapters/aws/eks-auth.js';
import { SfnExecutions } from '../functions/adapters/aws/sfn-executions.js';
import { SnsNotifier } from '../functions/adapters/aws/sns-notifier.js';
import { CollectingNotifier } from '../functions/adapters/collecting-notifier.js';
import {
  createKubeClients,
  type KubeClients,
  kubeConfigFromFile,
} from '../functions/adapters/kubernetes/client.js';
import type { RenewableKubeConfig } from '../functions/adapters/kubernetes/credential.js';
import { kubeWorkloads } from '../functions/adapters/kubernetes/workloads-factory.js';
import { composePorts } from '../functions/compose.js';
import type { ServiceConfig } from '../functions/domain/config.js';
import type { ReleasePorts } from '../functions/ports/release.js';
import { topicName } from '../infra/names.js';
import type { CliContext } from './context.js';
import { CliError, EXIT_CODES, line } from './io.js';

/** Where the CLI reaches the cluster and the team. */
export interface CliPortsOptions {
  /** A kubeconfig file to use instead of EKS. */
  readonly kubeconfig?: string;
  /** Its context. @default its current context */
  readonly context?: string;
  /**
   * The notifications topic. @default the `--stack`'s, else $TPS_TOPIC_ARN, else derived from the
   * execution ARN (`<appName>-notifications`)
   */
  readonly topicArn?: string;
  /** An execution ARN of the deployment, to derive partition, region and account of the topic. */
  readonly executionArn?: string | null;
}

/**
 * The topic ARN `arn:<partition>:sns:<region>:<account>:<appName>-notifications`, from an
 * execution ARN of the same stack; null for local executions.
 */
export function topicArnFor(appName: string, executionArn: string | null | undefined): string | null {
  const parts = executionArn?.split(':') ?? [];
  if (parts.length < 8 || parts[3] === 'local') return null;
  return `arn:${parts[1]}:sns:${parts[3]}:${parts[4]}:${topicName(appName)}`;
}

/** Kubernetes retries for a person waiting at a terminal: 3 tries, 10 s per request. */
const CLI_KUBE_RETRY = { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 2000, requestTimeoutMs: 10_000 };

/** The API server a KubeConfig points at, for error messages. */
function serverOf(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? '(no current cluster)';
}

/** The clients of one cluster, and the API server they talk to (for messages). */
export interface ClusterConnection {
  readonly clients: KubeClients;
  /** The KubeConfig they were built from (for API groups the adapters do not use). */
  readonly kubeConfig: KubeConfig;
  readonly server: string;
}

/**
 * Cluster access for the CLI, one connection per cluster (cached): with `--kubeconfig` that file
 * (its `--context`), else EKS DescribeCluster and a token signed with the caller's credentials
 * (renewed when the API server answers 401).
 */
export function cliClusters(
  ctx: CliContext,
  opts: Pick<CliPortsOptions, 'kubeconfig' | 'context'>,
): (svc: ServiceConfig) => Promise<ClusterConnection> {
  const eksProviders = new Map<string, EksKubeConfigProvider>();
  const connections = new Map<string, Promise<ClusterConnection>>();
  const open = async (svc: ServiceConfig): Promise<ClusterConnection> => {
    let kc: KubeConfig | RenewableKubeConfig;
    if (opts.kubeconfig) {
      try {
        kc = kubeConfigFromFile(opts.kubeconfig, opts.context);
      } catch (error) {
        throw new CliError(
          `--kubeconfig: cannot use ${opts.kubeconfig}: ${(error as Error).message}`,
          EXIT_CODES.usage,
        );
      }
    } else {
      let provider = eksProviders.get(svc.cluster.region);
      if (!provider) {
        provider = new EksKubeConfigProvider({ client: ctx.eksIn(svc.cluster.region) });
        eksProviders.set(svc.cluster.region, provider);
      }
      // Renewable: a command that outlives its token signs a new one when the API server says 401.
      kc = await ctx.aws(`EKS DescribeCluster ${svc.cluster.name}`, () => provider.access(svc.cluster.name));
    }
    const kubeConfig = 'renew' in kc ? kc.kubeConfig : kc;
    return { clients: createKubeClients(kc, CLI_KUBE_RETRY), kubeConfig, server: serverOf(kubeConfig) };
  };
  return (svc) => {
    const key = opts.kubeconfig ? `file:${opts.kubeconfig}` : `eks:${svc.cluster.region}/${svc.cluster.name}`;
    let made = connections.get(key);
    if (!made) {
      made = open(svc);
      // A failed connection is tried again by the next caller, not remembered.
      made.catch(() => connections.delete(key));
      connections.set(key, made);
    }
    return made;
  };
}

export async function cliPorts(ctx: CliContext, opts: CliPortsOptions = {}): Promise<ReleasePorts> {
  const catalog = await ctx.catalog();
  const store = await ctx.store();
  const topicArn =
    opts.topicArn ??
    (await ctx.runbook())?.topicArn ??
    ctx.env.TPS_TOPIC_ARN ??
    topicArnFor(catalog.appName, opts.executionArn);
  const notifier = topicArn
    ? new SnsNotifier({ client: ctx.sns, topicArn })
    : new CollectingNotifier((n) =>
        line(ctx.io.stderr, `notification (no topic to send it to): ${n.subject}`),
      );
  const connect = cliClusters(ctx, opts);
  const sfnExecutions = new SfnExecutions({ client: ctx.sfn });
  return composePorts({
    catalog,
    store,
    notifier,
    workloads: async (svc) => kubeWorkloads(svc, (await connect(svc)).clients),
    // The same AWS adapters as the Lambda functions: an abort or rollback by a person puts the
    // latency alarm back at its configured threshold, as the state machine's rollback does.
    aws: { cloudwatch: ctx.cloudwatch, sfn: ctx.sfn },
    // A person's rollback counts in the release metrics as the functions' do, but through
    // PutMetricData: Embedded Metric Format on the CLI's standard output would be nobody's metric.
    telemetry: new CloudWatchReleaseTelemetry({
      client: ctx.cloudwatch,
      onError: (message) => line(ctx.io.stderr, message),
    }),
    overrides: {
      // The functions' adapter, with a person's wording when StopExecution fails.
      executions: {
        status: (arn) => sfnExecutions.status(arn),
        async stop(executionArn, cause) {
          try {
            await sfnExecutions.stop(executionArn, cause);
          } catch (error) {
            throw new CliError(`StopExecution failed: ${(error as Error).message}`, EXIT_CODES.failed, {
              cause: error,
            });
          }
        },
      },
    },
  });
}

/**
 * Reads the service's Deployment once, so an unreachable or forbidden cluster is reported before
 * anything is stopped or changed. Throws a CliError naming the cluster and the API server.
 */
export async function checkClusterAccess(
  ports: ReleasePorts,
  svc: ServiceConfig,
  opts: CliPortsOptions,
): Promise<void> {
  const where = opts.kubeconfig
    ? `the cluster of ${opts.kubeconfig}${opts.context ? ` (context ${opts.context})` : ''}`
    : `EKS cluster ${svc.cluster.name} (${svc.cluster.region})`;
  try {
    const { cluster } = await ports.workloads(svc);
    await cluster.recordPlan(svc.namespace, svc.deployment);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(
      `cannot reach ${where} to roll back ${svc.namespace}/${svc.deployment}: ${(error as Error).message}. Nothing was stopped or changed; check your network, VPN and cluster access (or pass --kubeconfig)`,
      EXIT_CODES.failed,
      { cause: error },
    );
  }
}
