/**
 * The credential every Kubernetes API request carries, and what happens when the API server
 * refuses it: no request fails on a credential that signing a new one would have fixed, and no
 * request is sent more than twice.
 *
 * The API server authenticates a request before doing anything with it, so a request answered
 * 401 Unauthorized changed nothing and may be sent again, writes included. When the clients can
 * renew their credential ({@link RenewableKubeConfig}; on EKS: sign a new token):
 *
 * 1. a request answered 401 asks for a new credential and is sent once more with it;
 * 2. requests refused with the same credential share one renewal, and a request that carried a
 *    credential already replaced is sent again with the new one, without renewing again;
 * 3. the answer to the second sending is final: a second 401 in a row is a real authorization
 *    failure, which KubeCall reports (KubernetesRequestError naming 401) and does not retry;
 * 4. a renewal that fails fails the request with its own error (on EKS a throttled
 *    DescribeCluster is AwsTransientError, which the state machine retries).
 *
 * It is the HTTP library of every API client createKubeClients builds, below the client's
 * middleware, so it holds for every request of the routers, the cluster client and the Job runner.
 */
import {
  type HttpLibrary,
  IsomorphicFetchHttpLibrary,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
  type SecurityAuthentication,
  wrapHttpLibrary,
} from '@kubernetes/client-node';

/** A kubeconfig whose credential can be renewed (EKS: a token signed again). */
export interface RenewableKubeConfig {
  readonly kubeConfig: KubeConfig;
  /**
   * A KubeConfig for the same cluster with a new credential, after the API server answered 401 to a
   * request that carried the credential of `rejected`.
   */
  readonly renew: (rejected: KubeConfig) => Promise<KubeConfig>;
}

/** HTTP status of a refused credential. */
const UNAUTHORIZED = 401;

/**
 * The authentication of a set of API clients (their `authMethods.default`) and, through
 * {@link RenewingCredential.httpLibrary}, the one renewal and re-send after a 401.
 */
export class RenewingCredential implements SecurityAuthentication {
  private current: KubeConfig;
  private renewal: Promise<KubeConfig> | null = null;
  /** The KubeConfig whose credential each request in flight carries. */
  private readonly carried = new WeakMap<RequestContext, KubeConfig>();
  private readonly renew: RenewableKubeConfig['renew'] | null;

  constructor(source: KubeConfig | RenewableKubeConfig) {
    if ('renew' in source) {
      this.current = source.kubeConfig;
      this.renew = source.renew;
    } else {
      this.current = source;
      this.renew = null;
    }
  }

  /** The KubeConfig requests are authenticated with now. */
  get kubeConfig(): KubeConfig {
    return this.current;
  }

  getName(): string {
    return 'kubeconfig authentication, renewed once on 401';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    const kc = this.current;
    this.carried.set(context, kc);
    await kc.applySecurityAuthentication(context);
  }

  /**
   * `inner` (client-node's fetch by default), sending a request refused with 401 once more with a
   * renewed credential. The second sending gets a timeout of its own (`requestTimeoutMs`).
   */
  httpLibrary(requestTimeoutMs: number, inner: HttpLibrary = new IsomorphicFetchHttpLibrary()): HttpLibrary {
    const send = (ctx: RequestContext): Promise<ResponseContext> => inner.send(ctx).toPromise();
    return wrapHttpLibrary({
      send: async (ctx) => {
        const first = await send(ctx);
        if (first.httpStatusCode !== UNAUTHORIZED || !this.renew) return first;
        const rejected = this.carried.get(ctx) ?? this.current;
        // Read the refusal to the end so its connection is released.
        await first.body.text().catch(() => undefined);
        const fresh = await this.renewed(rejected);
        this.carried.set(ctx, fresh);
        await fresh.applySecurityAuthentication(ctx);
        ctx.setSignal(AbortSignal.timeout(requestTimeoutMs));
        return send(ctx);
      },
    });
  }

  /** The credential to use after `rejected` was refused: renewed once, shared by every caller. */
  private renewed(rejected: KubeConfig): Promise<KubeConfig> {
    if (this.current !== rejected) return Promise.resolve(this.current);
    if (!this.renewal) {
      const renew = this.renew as RenewableKubeConfig['renew'];
      this.renewal = renew(rejected)
        .then((kc) => {
          this.current = kc;
          return kc;
        })
        .finally(() => {
          this.renewal = null;
        });
    }
    return this.renewal;
  }
}
