/**
 * A credential the API server stops accepting, as EKS stops accepting a token 15 minutes after
 * it was signed: the clients renew it once and send the refused request again; a credential
 * refused twice in a row is a real authorization failure (functions/adapters/kubernetes/credential.ts).
 *
 * The refusals are real kube-apiserver 401s, nothing is faked: the credentials are ServiceAccount
 * tokens from the TokenRequest API, each bound to a Secret of its own, bound to the shipped Role.
 * Deleting a token's Secret revokes the token (the API server checks that a bound token's object
 * still exists), which stands in for expiry. "Renewing" asks TokenRequest for a new token.
 */
import * as k8s from '@kubernetes/client-node';
import { createKubeClients, type KubeClients } from '../../functions/adapters/kubernetes/client.js';
import { KubernetesClusterClient } from '../../functions/adapters/kubernetes/cluster-client.js';
import type { RenewableKubeConfig } from '../../functions/adapters/kubernetes/credential.js';
import { KubernetesJobRunner } from '../../functions/adapters/kubernetes/jobs.js';
import { CANARY_SUFFIX } from '../../functions/adapters/kubernetes/labels.js';
import { createRouter } from '../../functions/adapters/kubernetes/router-factory.js';
import { AwsTransientError, ERROR_NAMES } from '../../functions/domain/errors.js';
import { RESTRICTED_ROLE_NAME } from '../../local/cluster/restricted-role.js';
import { adminKubeConfig, restrictedKubeConfig } from '../helpers/cluster-env.js';
import {
  type AppFixture,
  adminApis,
  createApp,
  deleteNamespace,
  eventually,
  namespaceWithShippedRole,
  releaseTarget,
} from '../helpers/k8s.js';

const SERVICE_ACCOUNT = 'tps-deploy-token';
const WAITS = { canaryReadyMs: 30_000, rolloutMs: 60_000, deleteMs: 30_000, pollMs: 200 };
const POLICY = { baseDelayMs: 20, maxDelayMs: 200 };

let ns: string;
let seq = 0;

beforeAll(async () => {
  ns = await namespaceWithShippedRole('k8s-reauth');
  const { core } = adminApis();
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: SERVICE_ACCOUNT } } });
  await adminKubeConfig()
    .makeApiClient(k8s.RbacAuthorizationV1Api)
    .createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: SERVICE_ACCOUNT },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: RESTRICTED_ROLE_NAME },
        subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: ns }],
      },
    });
});

afterAll(async () => {
  if (ns) await deleteNamespace(ns);
});

/** A KubeConfig with one token that logs every request sent with it (`token-2 GET /api/...`). */
class LoggedKubeConfig extends k8s.KubeConfig {
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

/** Bound ServiceAccount tokens, revoked by deleting their Secret; renewing issues the next one. */
class ServiceAccountTokens {
  /** Every sending of a request, in order, with the token it carried. */
  readonly sent: string[] = [];
  /** The token each renewal was asked for, in order. */
  readonly renewals: string[] = [];
  private readonly issued = new Map<string, { secret: string; kc: LoggedKubeConfig }>();
  private static secrets = 0;

  constructor(private readonly opts: { refuseRenewed?: boolean } = {}) {}

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

  labelOf(authorization: string | undefined): string | undefined {
    for (const [label, { kc }] of this.issued) if (authorization === `Bearer ${kc.token}`) return label;
    return undefined;
  }

  /** Deletes the token's Secret and waits until the API server answers 401 to the token. */
  async revoke(label: string): Promise<void> {
    const issued = this.issued.get(label);
    if (!issued) throw new Error(`no token ${label}`);
    await adminApis().core.deleteNamespacedSecret({ name: issued.secret, namespace: ns });
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
        await core.listNamespacedPod({ namespace: ns, limit: 1 });
        return false;
      } catch (err) {
        return err instanceof k8s.ApiException && err.code === 401;
      }
    });
  }

  private async issue(): Promise<LoggedKubeConfig> {
    const label = `token-${this.issued.size + 1}`;
    const { core } = adminApis();
    ServiceAccountTokens.secrets += 1;
    const secret = await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: `token-secret-${ServiceAccountTokens.secrets}` }, type: 'Opaque' },
    });
    const request = await core.createNamespacedServiceAccountToken({
      name: SERVICE_ACCOUNT,
      namespace: ns,
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

/** Middleware: revokes the token of the first request `when` picks, before it is sent. */
function revokeBefore(tokens: ServiceAccountTokens, when: (method: string) => boolean): k8s.Middleware {
  let done = false;
  return {
    pre: async (ctx) => {
      if (!done && when(String(ctx.getHttpMethod()))) {
        done = true;
        const label = tokens.labelOf(ctx.getHeaders().Authorization);
        if (!label) throw new Error('a request with a token this test did not issue');
        await tokens.revoke(label);
      }
      return ctx;
    },
    post: async (res) => res,
  };
}

async function setUp(
  opts: {
    refuseRenewed?: boolean;
    middleware?: (t: ServiceAccountTokens) => k8s.Middleware[];
    /** Replaces the token source's renewal. */
    renew?: RenewableKubeConfig['renew'];
  } = {},
): Promise<{ tokens: ServiceAccountTokens; clients: KubeClients; app: AppFixture }> {
  seq += 1;
  const app = await createApp(ns, `api-${seq}`, { replicas: 4 });
  const tokens = new ServiceAccountTokens(opts);
  const access = await tokens.access();
  const clients = createKubeClients(
    opts.renew ? { ...access, renew: opts.renew } : access,
    POLICY,
    undefined,
    opts.middleware ? opts.middleware(tokens) : [],
  );
  return { tokens, clients, app };
}

const deploymentPath = (name: string) => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;

test('a token refused before a read: one renewal, the read sent once more, and it succeeds', async () => {
  const { tokens, clients, app } = await setUp();
  await tokens.revoke('token-1');

  const plan = await new KubernetesClusterClient(clients).recordPlan(ns, app.name);

  expect(plan.replicas).toBe(4);
  expect(tokens.renewals).toEqual(['token-1']);
  expect(tokens.sent).toEqual([
    `token-1 GET ${deploymentPath(app.name)}`,
    `token-2 GET ${deploymentPath(app.name)}`,
  ]);
});

test('a token refused mid-shift: the refused write is sent once more with a new token, and the shift completes', async () => {
  const { tokens, clients, app } = await setUp({
    // The token "expires" just before the first write of the shift (creating the canary).
    middleware: (t) => [revokeBefore(t, (method) => method !== 'GET')],
  });
  const cluster = new KubernetesClusterClient(clients);
  const router = createRouter({ type: 'replica-ratio', service: app.service }, clients, { waits: WAITS });
  const plan = await cluster.recordPlan(ns, app.name);
  const target = releaseTarget(app, { api: 'registry.local/shop/api:v2' }, `rel-${seq}`);

  const status = await router.setWeight(target, plan, 25);

  expect(status.canaryReplicas).toBe(1);
  expect(tokens.renewals).toEqual(['token-1']);
  const writes = tokens.sent.filter((s) => !s.includes(' GET '));
  const create = `POST /apis/apps/v1/namespaces/${ns}/deployments`;
  expect(writes[0]).toBe(`token-1 ${create}`);
  expect(writes[1]).toBe(`token-2 ${create}`);
  // Sent twice, nothing more: everything before the refusal carried token-1, everything after token-2.
  const refused = tokens.sent.indexOf(`token-1 ${create}`);
  expect(tokens.sent.slice(0, refused + 1).every((s) => s.startsWith('token-1 '))).toBe(true);
  expect(tokens.sent.slice(refused + 1).every((s) => s.startsWith('token-2 '))).toBe(true);
  const canary = await adminApis().apps.readNamespacedDeployment({
    name: `${app.name}${CANARY_SUFFIX}`,
    namespace: ns,
  });
  expect(canary.spec?.replicas).toBe(1);
});

test('requests refused together (cluster client and Job runner) share one renewal; each is sent again once', async () => {
  const { tokens, clients, app } = await setUp();
  await tokens.revoke('token-1');
  const target = releaseTarget(app, {}, `rel-${seq}`);

  const [health, job] = await Promise.all([
    new KubernetesClusterClient(clients).health(target, 'stable'),
    new KubernetesJobRunner(clients).start({
      namespace: ns,
      name: `reauth-job-${seq}`,
      image: 'registry.local/shop/tests:v2',
      env: {},
      kind: 'test-canary',
      service: app.name,
      timeoutSeconds: 60,
    }),
  ]);

  expect(health.desired).toBe(4);
  expect(job.name).toBe(`reauth-job-${seq}`);
  expect(tokens.renewals).toEqual(['token-1']);
  const refused = tokens.sent.filter((s) => s.startsWith('token-1 ')).map((s) => s.slice('token-1 '.length));
  const after = tokens.sent.filter((s) => s.startsWith('token-2 ')).map((s) => s.slice('token-2 '.length));
  expect(refused.length).toBeGreaterThanOrEqual(1);
  for (const request of refused) expect(after.filter((s) => s === request)).toHaveLength(1);
  expect(tokens.sent.filter((s) => s.includes('POST'))).toHaveLength(2);
});

test('a credential refused twice in a row: KubernetesRequestError naming 401, one renewal, no third sending', async () => {
  const { tokens, clients, app } = await setUp({ refuseRenewed: true });
  await tokens.revoke('token-1');

  const err = await new KubernetesClusterClient(clients).recordPlan(ns, app.name).catch((e: unknown) => e);

  expect(err).toBeInstanceOf(Error);
  expect((err as Error).name).toBe(ERROR_NAMES.kubernetesRequest);
  expect((err as Error).message).toBe(
    `read deployment ${ns}/${app.name}: 401 Unauthorized the API server rejected the credential`,
  );
  expect(tokens.renewals).toEqual(['token-1']);
  expect(tokens.sent).toEqual([
    `token-1 GET ${deploymentPath(app.name)}`,
    `token-2 GET ${deploymentPath(app.name)}`,
  ]);
});

test('a renewal that fails fails the request with its own error (DescribeCluster throttled: AwsTransientError, retried by the state machine)', async () => {
  let renewals = 0;
  const { tokens, clients, app } = await setUp({
    renew: async () => {
      renewals += 1;
      throw new AwsTransientError('EKS DescribeCluster prod failed: ThrottlingException Rate exceeded');
    },
  });
  await tokens.revoke('token-1');

  const err = await new KubernetesClusterClient(clients).recordPlan(ns, app.name).catch((e: unknown) => e);

  expect((err as Error).name).toBe(ERROR_NAMES.awsTransient);
  expect(renewals).toBe(1);
  expect(tokens.sent).toEqual([`token-1 GET ${deploymentPath(app.name)}`]);
});
