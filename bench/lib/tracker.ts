/**
 * What the API server says about one namespace, as it happens: a LIST then a WATCH (from the
 * LIST's resourceVersion) of Deployments and of Pods, with the arrival time of every event. A
 * benchmark asks "when did this first become true?" and gets the arrival time of the event that
 * made it true (performance.now() milliseconds). Watch events arrive within a few milliseconds of
 * the write on a local API server, so no polling interval blurs the times.
 */
import { performance } from 'node:perf_hooks';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';

/** A condition over the namespace's current objects. */
export type Condition = (view: NamespaceView) => boolean;

/** The latest version of each object the watch has seen. */
export interface NamespaceView {
  readonly deployments: ReadonlyMap<string, V1Deployment>;
  readonly pods: ReadonlyMap<string, V1Pod>;
}

interface Waiter {
  readonly condition: Condition;
  readonly resolve: (at: { at: number; deploymentVersions: Record<string, string> }) => void;
}

const KINDS = {
  deployments: (ns: string) => `/apis/apps/v1/namespaces/${ns}/deployments`,
  pods: (ns: string) => `/api/v1/namespaces/${ns}/pods`,
} as const;

/** Watches Deployments and Pods of one namespace. */
export class NamespaceTracker implements NamespaceView {
  readonly deployments = new Map<string, V1Deployment>();
  readonly pods = new Map<string, V1Pod>();
  private readonly waiters = new Set<Waiter>();
  private readonly aborts: AbortController[] = [];
  private stopped = false;
  /** Watch events received, by kind. */
  readonly events = { deployments: 0, pods: 0 };

  private constructor(
    private readonly kc: k8s.KubeConfig,
    readonly namespace: string,
  ) {}

  static async start(kubeconfig: string, namespace: string): Promise<NamespaceTracker> {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    const t = new NamespaceTracker(kc, namespace);
    await Promise.all([t.follow('deployments'), t.follow('pods')]);
    return t;
  }

  /** LIST, then WATCH from its resourceVersion; on a closed watch, again. */
  private async follow(kind: keyof typeof KINDS): Promise<void> {
    const map = (kind === 'deployments' ? this.deployments : this.pods) as Map<
      string,
      { metadata?: k8s.V1ObjectMeta }
    >;
    const apps = this.kc.makeApiClient(k8s.AppsV1Api);
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const list =
      kind === 'deployments'
        ? await apps.listNamespacedDeployment({ namespace: this.namespace })
        : await core.listNamespacedPod({ namespace: this.namespace });
    map.clear();
    for (const item of list.items as { metadata?: k8s.V1ObjectMeta }[])
      map.set(item.metadata?.name ?? '', item);
    const watch = new k8s.Watch(this.kc);
    const ac = await watch.watch(
      KINDS[kind](this.namespace),
      { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (type: string, obj: { metadata?: k8s.V1ObjectMeta }) => {
        if (type === 'BOOKMARK') return;
        this.events[kind]++;
        const name = obj.metadata?.name ?? '';
        if (type === 'DELETED') map.delete(name);
        else map.set(name, obj);
        this.check();
      },
      () => {
        if (!this.stopped) void this.follow(kind).catch(() => undefined);
      },
    );
    this.aborts.push(ac);
  }

  private check(): void {
    if (this.waiters.size === 0) return;
    const at = performance.now();
    for (const w of [...this.waiters]) {
      if (!w.condition(this)) continue;
      this.waiters.delete(w);
      w.resolve({ at, deploymentVersions: this.deploymentVersions() });
    }
  }

  /** resourceVersion/generation of every Deployment now. */
  deploymentVersions(): Record<string, string> {
    return Object.fromEntries(
      [...this.deployments].map(([n, d]) => [
        n,
        `rv ${d.metadata?.resourceVersion} gen ${d.metadata?.generation}`,
      ]),
    );
  }

  /**
   * Resolves with the arrival time of the first event after which `condition` holds (or now, if
   * it already holds); rejects after `timeoutMs`.
   */
  when(
    condition: Condition,
    timeoutMs = 120_000,
  ): Promise<{ at: number; deploymentVersions: Record<string, string> }> {
    if (condition(this))
      return Promise.resolve({ at: performance.now(), deploymentVersions: this.deploymentVersions() });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`condition not met within ${timeoutMs} ms in ${this.namespace}`));
      }, timeoutMs);
      const waiter: Waiter = {
        condition,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
      };
      this.waiters.add(waiter);
    });
  }

  stop(): void {
    this.stopped = true;
    for (const ac of this.aborts) ac.abort();
  }
}

/** Drops null and undefined fields recursively: the wire form (watch) and the typed form agree then. */
export function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    out[k] = normalized(v);
  }
  return out;
}

/** Deployment status says: `replicas` pods, all of the current template, all Ready and available. */
export function rolledOut(dep: V1Deployment | undefined, replicas: number): boolean {
  if (!dep) return false;
  const st = dep.status ?? {};
  return (
    (st.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0) &&
    (dep.spec?.replicas ?? 1) === replicas &&
    st.replicas === replicas &&
    st.updatedReplicas === replicas &&
    st.readyReplicas === replicas &&
    st.availableReplicas === replicas
  );
}
