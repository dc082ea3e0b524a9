/**
 * EKS bearer tokens for the cluster tasks: no task runs with a token that expires before it ends.
 *
 * EKS accepts a token for 15 minutes after its X-Amz-Date ({@link EKS_TOKEN_VALID_SECONDS}).
 * A task takes its token when it starts and may run up to the largest task timeout
 * ({@link LONGEST_TASK_SECONDS}, 300 s: Clean Up, Roll Back). So a cached token is handed out
 * only while its age + 300 s + a 60 s margin (clock skew, the last request's own time) is under
 * 15 minutes, i.e. below 540 s of age ({@link EKS_TOKEN_REFRESH_SECONDS}); an older one is signed
 * again. (The AWS CLI's 14 minutes suits a command that ends in seconds, not a 5-minute task.)
 *
 * Should the API server still answer 401 (clock skew, credentials gone stale, a CLI command that
 * runs longer), the clients sign a new token and re-send the request once
 * ({@link EksKubeConfigProvider.access}, functions/adapters/kubernetes/credential.ts); a second
 * 401 is a real authorization failure.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { type Cluster, DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { KubeConfig } from '@kubernetes/client-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { TASKS } from '../../contract/tasks.js';
import { AwsTransientError, InvalidInputError, TargetNotFoundError } from '../../domain/errors.js';
import { type Clock, systemClock } from '../../ports/clock.js';
import type { RenewableKubeConfig } from '../kubernetes/credential.js';
import { describeError, isTransientAwsError } from './errors.js';

/** AWS credentials as the SDK resolves them. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Prefix of an EKS bearer token (aws-iam-authenticator pkg/token). */
export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** Header that binds the presigned URL to one cluster. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** Lifetime of the presigned URL as the CLI and aws-iam-authenticator sign it. */
export const EKS_TOKEN_EXPIRES_SECONDS = 60;
/** EKS accepts a token for 15 minutes after its X-Amz-Date, whatever X-Amz-Expires says. */
export const EKS_TOKEN_VALID_SECONDS = 15 * 60;
/** The longest a task that took a token may run: the largest Lambda timeout of the tasks. */
export const LONGEST_TASK_SECONDS: number = Math.max(...Object.values(TASKS).map((t) => t.timeoutSeconds));
/** Room for clock skew between Lambda and EKS and for the last request of a task. */
export const EKS_TOKEN_MARGIN_SECONDS = 60;
/**
 * The age from which a cached token is not handed out any more (540 s): a task that takes a token
 * younger than this ends at least the margin before EKS stops accepting it.
 */
export const EKS_TOKEN_REFRESH_SECONDS: number =
  EKS_TOKEN_VALID_SECONDS - LONGEST_TASK_SECONDS - EKS_TOKEN_MARGIN_SECONDS;

/** What to sign. */
export interface EksTokenRequest {
  readonly clusterName: string;
  /** Region of the STS endpoint (the cluster's region). */
  readonly region: string;
  readonly credentials: AwsCredentials | (() => Promise<AwsCredentials>);
  /** @default now */
  readonly signingDate?: Date;
  /** @default `sts.<region>.amazonaws.com` (`.com.cn` in China regions) */
  readonly host?: string;
  /** @default {@link EKS_TOKEN_EXPIRES_SECONDS} */
  readonly expiresInSeconds?: number;
}

/** The regional STS endpoint host of a region. */
export function stsHost(region: string): string {
  return `sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/**
 * The presigned STS GetCallerIdentity URL behind an EKS token: GET, headers `host` and
 * `x-k8s-aws-id` signed with SigV4 in the query string (what `aws eks get-token` produces).
 */
export async function presignGetCallerIdentity(req: EksTokenRequest): Promise<string> {
  const host = req.host ?? stsHost(req.region);
  const signer = new SignatureV4({
    credentials: req.credentials,
    region: req.region,
    service: 'sts',
    sha256: Sha256,
    uriEscapePath: true,
  });
  const signed = await signer.presign(
    new HttpRequest({
      method: 'GET',
      protocol: 'https:',
      hostname: host,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host, [CLUSTER_ID_HEADER]: req.clusterName },
    }),
    { expiresIn: req.expiresInSeconds ?? EKS_TOKEN_EXPIRES_SECONDS, signingDate: req.signingDate },
  );
  // Canonical (sorted) order with the signature last, as botocore and the Ruby SDK print it.
  const query = signed.query as Record<string, string>;
  const names = Object.keys(query)
    .filter((k) => k !== 'X-Amz-Signature')
    .sort();
  const pairs = [...names, 'X-Amz-Signature'].map((k) => `${rfc3986(k)}=${rfc3986(String(query[k]))}`);
  return `https://${host}/?${pairs.join('&')}`;
}

/** An EKS bearer token: `k8s-aws-v1.` + base64url (no padding) of the presigned URL. */
export async function eksToken(req: EksTokenRequest): Promise<string> {
  const url = await presignGetCallerIdentity(req);
  return EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url');
}

/** The presigned URL inside a token (for tests and diagnosis). Throws on anything else. */
export function decodeEksToken(token: string): URL {
  if (!token.startsWith(EKS_TOKEN_PREFIX))
    throw new InvalidInputError(
      [{ path: '', message: `not an EKS token (no ${EKS_TOKEN_PREFIX} prefix)` }],
      'EKS token',
    );
  return new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** How {@link EksKubeConfigProvider} reaches the cluster. */
export interface EksKubeConfigProviderProps {
  /** An EKS client in the cluster's region; its credentials and region also sign the token. */
  readonly client: EKSClient;
  /** @default the system clock */
  readonly clock?: Clock;
  /** @default {@link EKS_TOKEN_REFRESH_SECONDS} */
  readonly refreshAfterSeconds?: number;
}

/** A cluster connection and when its token was signed. */
export interface EksConnection {
  readonly kubeConfig: KubeConfig;
  readonly token: string;
  readonly endpoint: string;
  readonly signedAt: Date;
}

/** Cluster states whose API endpoint serves requests (an upgrade keeps the endpoint up). */
const SERVING = new Set(['ACTIVE', 'UPDATING']);
/** Cluster states that will become usable by waiting. */
const COMING = new Set(['CREATING', 'PENDING']);

/**
 * KubeConfigs for EKS clusters, from DescribeCluster (endpoint and CA) and a token signed with the
 * EKS client's own credentials. One per cluster is cached (per Lambda container) and rebuilt,
 * describing the cluster again, once its token reaches the refresh age, or when the API server
 * refused it. Concurrent callers for the same cluster share one build.
 */
export class EksKubeConfigProvider {
  private readonly clock: Clock;
  private readonly refreshMs: number;
  private readonly cache = new Map<string, Promise<EksConnection>>();

  constructor(private readonly props: EksKubeConfigProviderProps) {
    this.clock = props.clock ?? systemClock;
    this.refreshMs = (props.refreshAfterSeconds ?? EKS_TOKEN_REFRESH_SECONDS) * 1000;
  }

  /** A KubeConfig whose current context is the cluster, with a token valid for a while yet. */
  async kubeConfig(clusterName: string): Promise<KubeConfig> {
    return (await this.connection(clusterName)).kubeConfig;
  }

  /**
   * The cluster's KubeConfig and how to renew it, for createKubeClients: when the API server
   * answers 401, the clients ask for a new token (signed now, unless the one refused was already
   * replaced) and send the request once more.
   */
  async access(clusterName: string): Promise<RenewableKubeConfig> {
    const { kubeConfig } = await this.connection(clusterName);
    return {
      kubeConfig,
      renew: async (rejected) => (await this.connection(clusterName, rejected)).kubeConfig,
    };
  }

  /**
   * The cluster's connection: the cached one while its token is younger than the refresh age and
   * is not the one of `rejected` (a KubeConfig whose token the API server refused), else one with
   * a token signed now.
   */
  async connection(clusterName: string, rejected?: KubeConfig): Promise<EksConnection> {
    const cached = this.cache.get(clusterName);
    if (cached) {
      const conn = await cached;
      const young = this.clock.now().getTime() - conn.signedAt.getTime() < this.refreshMs;
      if (young && conn.kubeConfig !== rejected) return conn;
      if (this.cache.get(clusterName) !== cached) return this.connection(clusterName, rejected);
    }
    const building = this.build(clusterName);
    this.cache.set(clusterName, building);
    try {
      return await building;
    } catch (error) {
      if (this.cache.get(clusterName) === building) this.cache.delete(clusterName);
      throw error;
    }
  }

  private async build(clusterName: string): Promise<EksConnection> {
    const region = await this.props.client.config.region();
    const cluster = await this.describe(clusterName, region);
    const signedAt = this.clock.now();
    const token = await eksToken({
      clusterName,
      region,
      credentials: () => this.props.client.config.credentials(),
      signingDate: signedAt,
    });
    const kubeConfig = new KubeConfig();
    const user = `tps-deploy@${clusterName}`;
    kubeConfig.loadFromOptions({
      clusters: [
        { name: clusterName, server: cluster.endpoint, caData: cluster.caData, skipTLSVerify: false },
      ],
      users: [{ name: user, token }],
      contexts: [{ name: clusterName, cluster: clusterName, user }],
      currentContext: clusterName,
    });
    return { kubeConfig, token, endpoint: cluster.endpoint, signedAt };
  }

  private async describe(clusterName: string, region: string): Promise<{ endpoint: string; caData: string }> {
    let cluster: Cluster | undefined;
    try {
      ({ cluster } = await this.props.client.send(new DescribeClusterCommand({ name: clusterName })));
    } catch (error) {
      if ((error as { name?: unknown }).name === 'ResourceNotFoundException') {
        throw new TargetNotFoundError(
          `EKS cluster "${clusterName}" does not exist in ${region}; check cluster.name and cluster.region in the catalog`,
        );
      }
      if (isTransientAwsError(error)) {
        throw new AwsTransientError(`EKS DescribeCluster ${clusterName} failed: ${describeError(error)}`, {
          cause: error,
        });
      }
      throw error;
    }
    const status = cluster?.status ?? 'UNKNOWN';
    if (COMING.has(status)) {
      throw new AwsTransientError(
        `EKS cluster "${clusterName}" in ${region} is ${status}, not ACTIVE yet; retry later`,
      );
    }
    if (!SERVING.has(status)) {
      throw new TargetNotFoundError(
        `EKS cluster "${clusterName}" in ${region} is ${status}, not ACTIVE; its API cannot be used`,
      );
    }
    const endpoint = cluster?.endpoint;
    const caData = cluster?.certificateAuthority?.data;
    if (!endpoint || !caData) {
      const missing = [!endpoint && 'endpoint', !caData && 'certificateAuthority.data']
        .filter(Boolean)
        .join(' and ');
      throw new TargetNotFoundError(
        `EKS cluster "${clusterName}" in ${region} is ${status} but DescribeCluster returned no ${missing}`,
      );
    }
    return { endpoint, caData };
  }
}
