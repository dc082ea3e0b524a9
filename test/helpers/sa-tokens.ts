/**
 * Credentials the API server really stops accepting, for the reauthentication tests and the fault
 * matrix's token-expiry class: ServiceAccount tokens from the TokenRequest API, each bound to a
 * Secret of its own. Deleting a token's Secret revokes the token (the API server checks that a
 * bound token's object still exists), which stands in for an EKS token's expiry; "renewing" asks
 * TokenRequest for a new token. Nothing is faked: the refusals are kube-apiserver's 401s.
 */
import * as k8s from '@kubernetes/client-node';
import type { RenewableKubeConfig } from '../../functions/adapters/kubernetes/credential.js';
import { SHIPPED_ROLE_NAMES } from '../../local/cluster/restricted-role.js';
import { adminKubeConfig, eventually, restrictedKubeConfig } from './cluster-env.js';
import { adminApis } from './k8s.js';

/** The ServiceAccount the tokens are issued for. */
export const TOKEN_SERVICE_ACCOUNT = 'tps-deploy-token';

/**
 * Creates {@link TOKEN_SERVICE_ACCOUNT} in `namespace` and binds it to the shipped write Role, so a
 * token acts exactly as the functions that change the cluster do.
 */
export async function createTokenServiceAccount(namespace: string): Promise<void> {
  const { core } = adminApis();
  await core.createNamespacedServiceAccount({
    namespace,
    body: { metadata: { name: TOKEN_SERVICE_ACCOUNT } },
  });
  await adminKubeConfig()
    .makeApiClient(k8s.RbacAuthorizationV1Api)
    .createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: TOKEN_SERVICE_ACCOUNT },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: SHIPPED_ROLE_NAMES.write },
        subjects: [{ kind: 'ServiceAccount', name: TOKEN_SERVICE_ACCOUNT, namespace }],
      },
    });
}

/** A KubeConfig with one token that logs every request sent with it (`token-2 GET /api/...`). */
export class LoggedKubeConfig extends k8s.KubeConfig {
  constructor(
    readonly label: string,
    readonly token: string,
    private readonly sent: string[],
  ) {
    super();
    const cluster = restrictedKubeConfig().getCurrentCluster();
    if (!cluster) throw new Error('the restricted kubeconfig has no cluster');
    this.loadFromOptions({
      clusters: [cluster],
      users: [{ name: label, token }],
      contexts: [{ name: label, cluster: cluster.name, user: label }],
      currentContext: label,
    });
  }

  // Called once for every sending of a request: by the API client, then by a re-send.
  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    this.sent.push(`${this.label} ${context.getHttpMethod()} ${new URL(context.getUrl()).pathname}`);
    await super.applySecurityAuthentication(context);
  }
}

let secrets = 0;

/** Bound ServiceAccount tokens of one namespace, revoked by deleting their Secret. */
export class ServiceAccountTokens {
  /** Every sending of a request, in order, with the token it carried. */
  readonly sent: string[] = [];
  /** The token each renewal was asked for, in order. */
  readonly renewals: string[] = [];
  private readonly issued = new Map<string, { secret: string; kc: LoggedKubeConfig }>();

  constructor(
    private readonly namespace: string,
    private readonly opts: { refuseRenewed?: boolean } = {},
  ) {}

  /** The first token, renewable: each renewal issues the next one. */
  async access(): Promise<RenewableKubeConfig> {
    return {
      kubeConfig: await this.issue(),
      renew: async (rejected) => {
        this.renewals.push((rejected as LoggedKubeConfig).label);
        const kc = await this.issue();
        if (this.opts.refuseRenewed) await this.revoke(kc.label);
        return kc;
      },
    };
  }

  /** The label of the token an `Authorization` header carries. */
  labelOf(authorization: string | undefined): string | undefined {
    for (const [label, { kc }] of this.issued) if (authorization === `Bearer ${kc.token}`) return label;
    return undefined;
  }

  /** Deletes the token's Secret and waits until the API server answers 401 to the token. */
  async revoke(label: string): Promise<void> {
    const issued = this.issued.get(label);
    if (!issued) throw new Error(`no token ${label}`);
    const namespace = this.namespace;
    await adminApis().core.deleteNamespacedSecret({ name: issued.secret, namespace });
    const probe = new k8s.KubeConfig();
    probe.loadFromOptions({
      clusters: issued.kc.clusters,
      users: [{ name: 'probe', token: issued.kc.token }],
      contexts: [{ name: 'probe', cluster: issued.kc.clusters[0]!.name, user: 'probe' }],
      currentContext: 'probe',
    });
    const core = probe.makeApiClient(k8s.CoreV1Api);
    await eventually(`${label} refused by the API server`, async () => {
      try {
        await core.listNamespacedPod({ namespace, limit: 1 });
        return false;
      } catch (err) {
        return err instanceof k8s.ApiException && err.code === 401;
      }
    });
  }

  private async issue(): Promise<LoggedKubeConfig> {
    const label = `token-${this.issued.size + 1}`;
    const { core } = adminApis();
    secrets += 1;
    const secret = await core.createNamespacedSecret({
      namespace: this.namespace,
      body: {
        metadata: { name: `token-secret-${Date.now().toString(36)}-${secrets}` },
        type: 'Opaque',
      },
    });
    const request = await core.createNamespacedServiceAccountToken({
      name: TOKEN_SERVICE_ACCOUNT,
      namespace: this.namespace,
      body: {
        spec: {
          audiences: [],
          expirationSeconds: 3600,
          boundObjectRef: {
            apiVersion: 'v1',
            kind: 'Secret',
            name: secret.metadata?.name,
            uid: secret.metadata?.uid,
          },
        },
      },
    });
    const kc = new LoggedKubeConfig(label, request.status?.token ?? '', this.sent);
    this.issued.set(label, { secret: secret.metadata?.name ?? '', kc });
    return kc;
  }
}

/**
 * Middleware: revokes the token of the first request `when` picks, before it is sent (the request
 * then meets a real 401). `fired` says which request it was, once it happened.
 */
export function revokeBefore(
  tokens: ServiceAccountTokens,
  when: (method: string, path: string) => boolean,
): k8s.Middleware & { readonly fired: string | null } {
  let fired: string | null = null;
  return {
    get fired() {
      return fired;
    },
    pre: async (ctx) => {
      const method = String(ctx.getHttpMethod());
      const path = new URL(ctx.getUrl()).pathname;
      if (fired === null && when(method, path)) {
        fired = `kube ${method} ${path}`;
        const label = tokens.labelOf(ctx.getHeaders().Authorization);
        if (!label) throw new Error('a request with a token this test did not issue');
        await tokens.revoke(label);
      }
      return ctx;
    },
    post: async (res) => res,
  };
}
