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
import type { Middleware } from '@kubernetes/client-node';
import { createKubeClients, type KubeClients } from '../../functions/adapters/kubernetes/client.js';
import { KubernetesClusterClient } from '../../functions/adapters/kubernetes/cluster-client.js';
import type { RenewableKubeConfig } from '../../functions/adapters/kubernetes/credential.js';
import { KubernetesJobRunner } from '../../functions/adapters/kubernetes/jobs.js';
import { CANARY_SUFFIX } from '../../functions/adapters/kubernetes/labels.js';
import { createRouter } from '../../functions/adapters/kubernetes/router-factory.js';
import { AwsTransientError, ERROR_NAMES } from '../../functions/domain/errors.js';
import { JOB_POD } from '../helpers/catalogs.js';
import {
  type AppFixture,
  adminApis,
  createApp,
  deleteNamespace,
  namespaceWithShippedRole,
  releaseTarget,
} from '../helpers/k8s.js';
import { createTokenServiceAccount, revokeBefore, ServiceAccountTokens } from '../helpers/sa-tokens.js';

const WAITS = { canaryReadyMs: 30_000, rolloutMs: 60_000, deleteMs: 30_000, pollMs: 200 };
const POLICY = { baseDelayMs: 20, maxDelayMs: 200 };

let ns: string;
let seq = 0;

beforeAll(async () => {
  ns = await namespaceWithShippedRole('k8s-reauth');
  await createTokenServiceAccount(ns);
});

afterAll(async () => {
  if (ns) await deleteNamespace(ns);
});

async function setUp(
  opts: {
    refuseRenewed?: boolean;
    middleware?: (t: ServiceAccountTokens) => Middleware[];
    /** Replaces the token source's renewal. */
    renew?: RenewableKubeConfig['renew'];
  } = {},
): Promise<{ tokens: ServiceAccountTokens; clients: KubeClients; app: AppFixture }> {
  seq += 1;
  const app = await createApp(ns, `api-${seq}`, { replicas: 4 });
  const tokens = new ServiceAccountTokens(ns, opts);
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
      pod: JOB_POD,
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
