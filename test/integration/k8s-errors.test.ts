/**
 * How the Kubernetes adapters treat API failures. Conflicts, 404s and 403s come from the real
 * local API server. Throttling (429 with Retry-After), 5xx answers, refused connections and hung
 * connections cannot be produced on demand by a healthy API server, so those come from a small
 * local HTTP endpoint that answers like one (Status bodies as the API server sends them), and
 * from a port nobody listens on.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import {
  backoffDelayMs,
  createKubeClients,
  DEFAULT_RETRY_POLICY,
  KubeCall,
  type KubeClients,
} from '../../functions/adapters/kubernetes/client.js';
import { KubernetesClusterClient } from '../../functions/adapters/kubernetes/cluster-client.js';
import { setDeploymentState } from '../../functions/adapters/kubernetes/deployment.js';
import type { PlainObject } from '../../functions/adapters/kubernetes/generic.js';
import { MANAGED_REPLICAS_ANNOTATION } from '../../functions/adapters/kubernetes/labels.js';
import { createRouter } from '../../functions/adapters/kubernetes/router-factory.js';
import { ERROR_NAMES, KubernetesTransientError, TargetNotFoundError } from '../../functions/domain/errors.js';
import { restrictedKubeConfig } from '../helpers/cluster-env.js';
import {
  adminApis,
  createApp,
  deleteNamespace,
  namespaceWithShippedRole,
  restrictedClients,
} from '../helpers/k8s.js';

/** Records the backoff it is asked for instead of waiting. */
function recordingRuntime() {
  const sleeps: number[] = [];
  return { sleeps, runtime: { sleep: async (ms: number) => void sleeps.push(ms), random: () => 0.5 } };
}

function clientsFor(
  server: string,
  policy: Parameters<typeof createKubeClients>[1],
  runtime: ReturnType<typeof recordingRuntime>['runtime'],
): KubeClients {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'test' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return createKubeClients(kc, policy, runtime);
}

function status(res: ServerResponse, code: number, reason: string, headers: Record<string, string> = {}) {
  res.writeHead(code, { 'content-type': 'application/json', ...headers });
  res.end(
    JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      message: `${reason} (test)`,
      reason,
      code,
    }),
  );
}

describe('backoff', () => {
  test('full jitter: uniform below min(max, base * 2^attempt)', () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelayMs(0, p, () => 0.999)).toBe(99);
    expect(backoffDelayMs(3, p, () => 0.5)).toBe(400);
    expect(backoffDelayMs(10, p, () => 0.999)).toBe(999);
    expect(backoffDelayMs(2, p, () => 0)).toBe(0);
  });

  test('Retry-After raises the floor, capped by maxDelayMs', () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 5000 };
    expect(backoffDelayMs(0, p, () => 0.5, 2)).toBe(2000);
    expect(backoffDelayMs(0, p, () => 0.5, 60)).toBe(5000);
  });
});

describe('failures from an endpoint that answers like a struggling API server', () => {
  let server: Server;
  let url: string;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};

  beforeAll(async () => {
    server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('429 with Retry-After, then 503, then success: retried, honouring Retry-After', async () => {
    const answers = [
      (res: ServerResponse) => status(res, 429, 'TooManyRequests', { 'retry-after': '2' }),
      (res: ServerResponse) => status(res, 503, 'ServiceUnavailable'),
      (res: ServerResponse) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: 'api', namespace: 'shop', generation: 3 },
            spec: {
              replicas: 2,
              selector: { matchLabels: { app: 'api' } },
              template: {
                metadata: { labels: { app: 'api' } },
                spec: { containers: [{ name: 'api', image: 'api:v1' }] },
              },
            },
          }),
        );
      },
    ];
    const paths: string[] = [];
    handler = (req, res) => {
      paths.push(`${req.method} ${req.url}`);
      (answers.shift() ?? ((r: ServerResponse) => status(r, 500, 'InternalError')))(res);
    };
    const { sleeps, runtime } = recordingRuntime();
    const clients = clientsFor(url, { baseDelayMs: 100, maxDelayMs: 5000 }, runtime);
    const plan = await new KubernetesClusterClient(clients).recordPlan('shop', 'api');
    expect(plan).toMatchObject({ replicas: 2, generation: 3, images: { api: 'api:v1' } });
    expect(paths).toEqual(Array(3).fill('GET /apis/apps/v1/namespaces/shop/deployments/api'));
    // Retry-After: 2 -> at least 2 s; then full jitter at attempt 1 (ceiling 200 ms, random 0.5).
    expect(sleeps).toEqual([2000, 100]);
  });

  test('5xx on every attempt ends in KubernetesTransientError with the status', async () => {
    let calls = 0;
    handler = (_req, res) => {
      calls += 1;
      status(res, 500, 'InternalError');
    };
    const { sleeps, runtime } = recordingRuntime();
    const clients = clientsFor(url, { maxAttempts: 3 }, runtime);
    const err = await new KubernetesClusterClient(clients).recordPlan('shop', 'api').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesTransientError);
    expect((err as KubernetesTransientError).name).toBe(ERROR_NAMES.kubernetesTransient);
    expect((err as KubernetesTransientError).status).toBe(500);
    expect((err as Error).message).toMatch(
      /read deployment shop\/api failed 3 times; last: 500 InternalError/,
    );
    expect(calls).toBe(3);
    expect(sleeps).toHaveLength(2);
  });

  test('a connection that never answers times out and is retried, then KubernetesTransientError', async () => {
    let calls = 0;
    handler = () => {
      calls += 1; // never respond
    };
    const { runtime } = recordingRuntime();
    const clients = clientsFor(url, { maxAttempts: 2, requestTimeoutMs: 1000 }, runtime);
    const err = await new KubernetesClusterClient(clients).recordPlan('shop', 'api').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesTransientError);
    // Both attempts timed out. (Counted by the client: on a loaded machine the second request may
    // time out before this server has read it.)
    expect((err as Error).message).toMatch(/failed 2 times; last: .*TimeoutError/);
    expect(calls).toBeGreaterThanOrEqual(1);
  });

  test('a refused connection is retried, then KubernetesTransientError', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { sleeps, runtime } = recordingRuntime();
    const clients = clientsFor(`http://127.0.0.1:${port}`, { maxAttempts: 4 }, runtime);
    const err = await new KubernetesClusterClient(clients).recordPlan('shop', 'api').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesTransientError);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect(sleeps).toHaveLength(3);
  });
});

describe('failures from the real API server', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await namespaceWithShippedRole('k8s-errors');
  });
  afterAll(async () => {
    if (ns) await deleteNamespace(ns);
  });

  test('a 409 conflict re-runs the read-modify-write step with the fresh object', async () => {
    const app = await createApp(ns, 'conflict', { replicas: 1 });
    const clients = restrictedClients();
    const { apps } = adminApis();
    let attempts = 0;
    const result = await clients.call.run('label deployment', async () => {
      attempts += 1;
      const dep = await clients.apps.readNamespacedDeployment({ name: app.name, namespace: ns });
      if (attempts === 1) {
        // Someone else writes between our read and our write.
        await apps.patchNamespacedDeployment(
          { name: app.name, namespace: ns, body: { metadata: { labels: { other: 'writer' } } } },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
      }
      return clients.apps.patchNamespacedDeployment(
        {
          name: app.name,
          namespace: ns,
          body: { metadata: { resourceVersion: dep.metadata?.resourceVersion, labels: { ours: 'yes' } } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    });
    expect(attempts).toBe(2);
    expect(result.metadata?.labels).toMatchObject({ other: 'writer', ours: 'yes' });
  });

  test('restoring a Deployment is one JSON patch; a concurrent removal of the replicas mark is a conflict, and the retry wins', async () => {
    const app = await createApp(ns, 'restore', { replicas: 2 });
    const { apps } = adminApis();
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    const before = await apps.readNamespacedDeployment({ name: app.name, namespace: ns });
    const template = JSON.parse(JSON.stringify(before.spec?.template)) as PlainObject;
    // The live Deployment drifts from the recorded state: other replicas, our replicas mark.
    await apps.patchNamespacedDeployment(
      {
        name: app.name,
        namespace: ns,
        body: { spec: { replicas: 5 }, metadata: { annotations: { [MANAGED_REPLICAS_ANNOTATION]: '5' } } },
      },
      merge,
    );
    // Between the restore's read and its patch, once: an unrelated write (ignored by the patch) and
    // a concurrent rollback removing the mark (which fails the patch's `remove`).
    const patches: string[] = [];
    let interfered = false;
    const meddler: k8s.Middleware = {
      pre: async (ctx) => {
        if (String(ctx.getHttpMethod()) === 'PATCH') {
          patches.push(ctx.getUrl());
          if (!interfered) {
            interfered = true;
            await apps.patchNamespacedDeployment(
              {
                name: app.name,
                namespace: ns,
                body: {
                  metadata: {
                    labels: { other: 'writer' },
                    annotations: { [MANAGED_REPLICAS_ANNOTATION]: null },
                  },
                },
              },
              merge,
            );
          }
        }
        return ctx;
      },
      post: async (r) => r,
    };
    const kc = restrictedKubeConfig();
    const clients = createKubeClients(kc, { baseDelayMs: 10, maxDelayMs: 50 }, undefined, [meddler]);
    const action = await setDeploymentState(clients, ns, app.name, template, 2);
    expect(action).toMatch(/replicas 5 -> 2/);
    // The first patch failed on the vanished mark; the second, after a fresh read, applied.
    expect(patches).toHaveLength(2);
    const after = await apps.readNamespacedDeployment({ name: app.name, namespace: ns });
    expect(after.spec?.replicas).toBe(2);
    expect(after.metadata?.annotations?.[MANAGED_REPLICAS_ANNOTATION]).toBeUndefined();
    expect(after.metadata?.labels).toMatchObject({ other: 'writer' });
    // Already restored: nothing to patch.
    expect(await setDeploymentState(clients, ns, app.name, template, 2)).toBeNull();
    expect(patches).toHaveLength(2);
  });

  test('a missing Deployment, Service or Ingress is TargetNotFoundError, not retried', async () => {
    const clients = restrictedClients();
    await expect(new KubernetesClusterClient(clients).recordPlan(ns, 'nope')).rejects.toThrow(
      TargetNotFoundError,
    );
    const app = await createApp(ns, 'lonely', { replicas: 1 });
    const plan = await new KubernetesClusterClient(clients).recordPlan(ns, app.name);
    const target = {
      deploymentId: 'd1',
      service: 'lonely',
      namespace: ns,
      deployment: app.name,
      images: { api: 'x:v2' },
      version: 'v2',
    };
    const noSvc = createRouter({ type: 'replica-ratio', service: 'missing-svc' }, clients);
    await expect(noSvc.setWeight(target, plan, 10)).rejects.toThrow(/service .*\/missing-svc not found/);
    const noIngress = createRouter(
      { type: 'alb', ingress: 'missing-ing', actionName: 'a', stableService: app.service, servicePort: 80 },
      clients,
    );
    const err = await noIngress.setWeight(target, plan, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetNotFoundError);
    expect((err as Error).name).toBe(ERROR_NAMES.notFound);
  });

  test('KubeCall passes errors it raised on purpose through untouched', async () => {
    const call = new KubeCall();
    const mine = new TargetNotFoundError('x');
    await expect(call.run('x', () => Promise.reject(mine))).rejects.toBe(mine);
  });
});
