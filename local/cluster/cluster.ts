/**
 * A real Kubernetes control plane on this machine: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and KWOK (fake nodes and kubelets), plus metrics-server when metrics are on
 * (see metrics.ts), all on 127.0.0.1 with free ports, TLS with a local CA, a state directory per
 * cluster name, and detached processes recorded in state.json.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_NAMES, TpsError } from '../../functions/domain/errors.js';
import { type BinaryPaths, ensureBinaries } from './binaries.js';
import { type CertPaths, type ClientIdentity, FRONT_PROXY_CLIENT_CN, generateCerts } from './certs.js';
import { apiRequest, isReady, type TlsClient, tlsClientFromFiles, writeKubeconfig } from './kubeconfig.js';
import {
  applyObjects,
  HPA_SYNC_PERIOD,
  KWOK_SERVING,
  kwokMetricsArgs,
  METRICS_SERVER_CLIENT,
  METRICS_SERVER_SERVING,
  metricsApiAvailable,
  metricsApiObjects,
  metricsRbacObjects,
  metricsServerArgs,
  nodeMetricsAnnotations,
} from './metrics.js';
import {
  freePorts,
  isAlive,
  type ProcessRef,
  spawnDetached,
  stopProcesses,
  stopProcessesSync,
  tailFile,
} from './processes.js';
import { applyRestrictedRole, RESTRICTED_GROUP, RESTRICTED_USER } from './restricted-role.js';
import { type StageTimings, stagesYaml, timingsFromEnv } from './stages.js';
import { clustersRoot, ETCD_VERSION, K8S_VERSION, KWOK_VERSION, METRICS_SERVER_VERSION } from './versions.js';

export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
  'metrics-server',
] as const;
export type Component = (typeof COMPONENTS)[number];

/** The components a cluster runs: metrics-server only with metrics. */
export function clusterComponents(metrics: boolean): Component[] {
  return COMPONENTS.filter((c) => metrics || c !== 'metrics-server');
}

export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';
export const POD_CIDR = '10.244.0.0/16';
export const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';
export const DEFAULT_NODE_COUNT = 3;
export const DEFAULT_CLUSTER_NAME = 'local';
/** Whether clusters run metrics-server unless told otherwise (see docs/local-cluster.md). */
export const DEFAULT_METRICS = true;

export interface ClusterPorts {
  etcdClient: number;
  etcdPeer: number;
  apiServer: number;
  controllerManager: number;
  scheduler: number;
  /** KWOK's server: health and metrics, and with metrics on, every fake node's kubelet endpoint. */
  kwok: number;
  /** metrics-server's secure port (only with metrics). */
  metricsServer?: number;
}

export interface ClusterInfo {
  name: string;
  stateDir: string;
  /** Admin kubeconfig (O=system:masters). */
  kubeconfig: string;
  /** Kubeconfig of the restricted identity CN=tps-deploy-functions, O=tps-deploy. */
  restrictedKubeconfig: string;
  apiServerUrl: string;
  ports: ClusterPorts;
  /** Pid (= process group id) of each component (0 for a component this cluster does not run). */
  pids: Record<Component, number>;
  /** Path of the built kubectl matching the cluster's version. */
  kubectl: string;
  versions: { kubernetes: string; etcd: string; kwok: string; metricsServer?: string };
  /** Whether metrics-server and the `metrics.k8s.io` API run (see docs/local-cluster.md). */
  metrics: boolean;
  nodes: string[];
  startedAt: string;
  /** Milliseconds `startCluster` took (binaries already cached excluded). */
  startupMs: number;
}

/** What state.json holds: the public info plus what `stopCluster` needs. */
interface ClusterState extends Omit<ClusterInfo, 'pids' | 'metrics'> {
  /** Absent in state written before metrics existed. */
  metrics?: boolean;
  phase: 'starting' | 'up';
  /** Pid of the process running `startCluster` (a `starting` cluster belongs to it). */
  starterPid: number;
  processes: Partial<Record<Component, ProcessRef>>;
  watchdog?: ProcessRef;
  ownerPid?: number;
}

export interface StartClusterOptions {
  name?: string;
  /** When a live cluster of that name exists: 'error' (default) refuses, 'reuse' returns it. */
  ifExists?: 'error' | 'reuse';
  /** Stop the cluster automatically when this process exits (checked every second). */
  ownerPid?: number;
  /** Number of fake nodes (default 3). */
  nodes?: number;
  /** Overrides of TPS_POD_READY_DELAY_MS / TPS_POD_RUN_DURATION_MS / TPS_CRASH_RESTART_INTERVAL_MS. */
  timings?: Partial<StageTimings>;
  /**
   * Run metrics-server and serve the `metrics.k8s.io` API from KWOK's usage emulation, so the
   * horizontal-pod-autoscaler controller acts on CPU/memory. `startCluster` then also waits
   * until the APIService is Available.
   * @default DEFAULT_METRICS
   */
  metrics?: boolean;
  /** How long to wait for the control plane (default 90 s). */
  timeoutMs?: number;
  /** Receives progress lines (default: stderr). */
  log?: (line: string) => void;
}

/** A control plane of that name runs already (the CLI's `cluster start` reports it). */
export class ClusterAlreadyRunningError extends TpsError {
  constructor(
    readonly info: ClusterInfo | undefined,
    message: string,
  ) {
    super(ERROR_NAMES.clusterAlreadyRunning, message);
  }
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

export function validateClusterName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new Error(`invalid cluster name ${JSON.stringify(name)}: use 1-40 of a-z, 0-9 and '-'`);
  }
  return name;
}

export function clusterStateDir(name: string): string {
  return join(clustersRoot(), validateClusterName(name));
}

function statePath(stateDir: string): string {
  return join(stateDir, 'state.json');
}

function readState(stateDir: string): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(stateDir), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

async function writeState(state: ClusterState): Promise<void> {
  const tmp = `${statePath(state.stateDir)}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(tmp, statePath(state.stateDir));
}

/**
 * Stop order: the watchdog first (so it does not race us), etcd last (an API server whose etcd
 * is gone hangs in graceful shutdown until it is killed).
 */
function stopGroups(state: ClusterState): ProcessRef[][] {
  const { etcd, ...rest } = state.processes;
  return [state.watchdog ? [state.watchdog] : [], Object.values(rest), etcd ? [etcd] : []];
}

async function stopAll(state: ClusterState, graceMs: number): Promise<void> {
  for (const group of stopGroups(state)) await stopProcesses(group, graceMs);
}

function publicInfo(state: ClusterState): ClusterInfo {
  const { phase: _p, starterPid: _s, processes, watchdog: _w, ownerPid: _o, ...rest } = state;
  const pids = Object.fromEntries(COMPONENTS.map((c) => [c, processes[c]?.pid ?? 0])) as Record<
    Component,
    number
  >;
  return { ...rest, metrics: state.metrics ?? false, pids };
}

/** A cluster directory is live while its starter or any of its processes is alive. */
function isLive(state: ClusterState): boolean {
  if (Object.values(state.processes).some(isAlive)) return true;
  return state.phase === 'starting' && state.starterPid !== process.pid && pidExists(state.starterPid);
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function adminClient(state: Pick<ClusterState, 'apiServerUrl' | 'stateDir'>): TlsClient {
  const certs = join(state.stateDir, 'certs');
  return tlsClientFromFiles(
    state.apiServerUrl,
    join(certs, 'ca.crt'),
    join(certs, 'admin.crt'),
    join(certs, 'admin.key'),
  );
}

const CLIENTS: ClientIdentity[] = [
  { file: 'admin', commonName: 'kubernetes-admin', organizations: ['system:masters'] },
  { file: 'controller-manager', commonName: 'system:kube-controller-manager', organizations: [] },
  { file: 'scheduler', commonName: 'system:kube-scheduler', organizations: [] },
  { file: 'restricted', commonName: RESTRICTED_USER, organizations: [RESTRICTED_GROUP] },
];

function componentArgs(
  c: Component,
  s: { stateDir: string; ports: ClusterPorts; certs: CertPaths; name: string; metrics: boolean },
): string[] {
  const { stateDir, ports, certs } = s;
  const kc = (file: string) => join(stateDir, file);
  const etcdPeer = `http://127.0.0.1:${ports.etcdPeer}`;
  switch (c) {
    case 'etcd':
      return [
        '--name=tps',
        `--data-dir=${join(stateDir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${ports.etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${ports.etcdClient}`,
        `--listen-peer-urls=${etcdPeer}`,
        `--initial-advertise-peer-urls=${etcdPeer}`,
        `--initial-cluster=tps=${etcdPeer}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ];
    case 'kube-apiserver':
      return [
        `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${ports.apiServer}`,
        `--cert-dir=${join(stateDir, 'apiserver')}`,
        `--tls-cert-file=${certs.serverCert}`,
        `--tls-private-key-file=${certs.serverKey}`,
        `--client-ca-file=${certs.caCert}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${certs.serviceAccountPub}`,
        `--service-account-signing-key-file=${certs.serviceAccountKey}`,
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        '--authorization-mode=Node,RBAC',
        // The aggregation layer (kubeadm's flags): the API server proxies to aggregated API servers
        // (metrics-server) with the front-proxy client certificate and the user in X-Remote-*
        // headers, which they trust only from a certificate of that CA with that name.
        `--requestheader-client-ca-file=${certs.frontProxyCaCert}`,
        `--requestheader-allowed-names=${FRONT_PROXY_CLIENT_CN}`,
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--proxy-client-cert-file=${certs.frontProxyClient.cert}`,
        `--proxy-client-key-file=${certs.frontProxyClient.key}`,
        '--allow-privileged=true',
        // The 127.0.0.1 advertise address is not a valid Endpoints IP; nothing in the cluster
        // talks to the `kubernetes` Service (there is no real pod network), so skip reconciling it.
        '--endpoint-reconciler-type=none',
        '--profiling=false',
        '--v=1',
      ];
    case 'kube-controller-manager':
      return [
        `--kubeconfig=${kc('controller-manager.kubeconfig')}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.controllerManager}`,
        `--cert-dir=${join(stateDir, 'controller-manager')}`,
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        // Creating a ServiceAccount + token per controller at start-up is ~100 requests: at the
        // default client rate limit (20/s) that alone takes 4-5 s.
        '--kube-api-qps=400',
        '--kube-api-burst=800',
        `--root-ca-file=${certs.caCert}`,
        `--service-account-private-key-file=${certs.serviceAccountKey}`,
        `--cluster-name=tps-${s.name}`,
        // HPAs are evaluated every second instead of every 15 s, so tests see them react in
        // seconds; everything else about the HPA controller keeps its defaults.
        `--horizontal-pod-autoscaler-sync-period=${HPA_SYNC_PERIOD}`,
        '--profiling=false',
        '--v=1',
      ];
    case 'kube-scheduler':
      return [
        `--kubeconfig=${kc('scheduler.kubeconfig')}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.scheduler}`,
        `--cert-dir=${join(stateDir, 'scheduler')}`,
        '--leader-elect=false',
        '--profiling=false',
        '--v=1',
      ];
    case 'kwok':
      return [
        `--kubeconfig=${kc('admin.kubeconfig')}`,
        `--config=${join(stateDir, 'kwok-stages.yaml')}`,
        '--manage-all-nodes=false',
        `--manage-nodes-with-annotation-selector=${FAKE_NODE_ANNOTATION}=fake`,
        `--server-address=127.0.0.1:${ports.kwok}`,
        `--cidr=${POD_CIDR}`,
        '--node-lease-duration-seconds=40',
        ...(s.metrics ? kwokMetricsArgs({ port: ports.kwok, certs }) : ['--node-ip=10.1.0.1']),
      ];
    case 'metrics-server':
      return metricsServerArgs({
        port: ports.metricsServer!,
        kubeconfig: kc(`${METRICS_SERVER_CLIENT.file}.kubeconfig`),
        certs,
      });
  }
}

function fakeNode(name: string, metrics: boolean) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: {
        [FAKE_NODE_ANNOTATION]: 'fake',
        'node.alpha.kubernetes.io/ttl': '0',
        ...(metrics ? nodeMetricsAnnotations(name) : {}),
      },
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/role': 'agent',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  };
}

async function waitFor<T>(
  what: string,
  deadline: number,
  check: () => Promise<T | undefined>,
  assertAlive: () => void,
  intervalMs = 100,
): Promise<T> {
  for (;;) {
    assertAlive();
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * Starts a cluster and returns once the API server is ready, the fake nodes are Ready, the
 * `default` ServiceAccount exists and the restricted Role is bound in `default`.
 */
export async function startCluster(opts: StartClusterOptions = {}): Promise<ClusterInfo> {
  const name = validateClusterName(opts.name ?? DEFAULT_CLUSTER_NAME);
  const log = opts.log ?? ((line: string) => process.stderr.write(`[cluster ${name}] ${line}\n`));
  const metrics = opts.metrics ?? DEFAULT_METRICS;
  const components = clusterComponents(metrics);
  const bins: BinaryPaths = await ensureBinaries(process.env, { metrics });
  const t0 = Date.now();
  const stateDir = clusterStateDir(name);
  await mkdir(clustersRoot(), { recursive: true });

  // Claim the directory; an existing one is either live (refuse/reuse) or stale (replace).
  for (;;) {
    try {
      await mkdir(stateDir, { mode: 0o700 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const existing = readState(stateDir);
      if (existing && isLive(existing)) {
        const info = publicInfo(existing);
        if (opts.ifExists === 'reuse' && existing.phase === 'up' && (await isReady(adminClient(existing)))) {
          log(`already up; kubeconfig ${existing.kubeconfig}`);
          return info;
        }
        const dead = COMPONENTS.filter((c) => existing.processes[c] && !isAlive(existing.processes[c]!));
        const what =
          existing.phase === 'starting'
            ? `being started by pid ${existing.starterPid}`
            : dead.length > 0
              ? `running but degraded (${dead.join(', ')} not running)`
              : 'already up';
        throw new ClusterAlreadyRunningError(
          info,
          `cluster ${name} is ${what} (state ${stateDir}, kubeconfig ${existing.kubeconfig}). ` +
            `Run \`npm run cluster -- down --name ${name}\` first.`,
        );
      }
      if (!existing && existsSync(stateDir)) {
        // No state yet: another `up` may have just created the directory. Give it a moment.
        await sleep(300);
        if (readState(stateDir)) continue;
      }
      if (existing) await stopAll(existing, 2000);
      await rm(stateDir, { recursive: true, force: true });
    }
  }

  const [etcdClient, etcdPeer, apiServer, controllerManager, scheduler, kwok, metricsServer] =
    await freePorts(metrics ? 7 : 6);
  const ports: ClusterPorts = {
    etcdClient: etcdClient!,
    etcdPeer: etcdPeer!,
    apiServer: apiServer!,
    controllerManager: controllerManager!,
    scheduler: scheduler!,
    kwok: kwok!,
    ...(metrics ? { metricsServer: metricsServer! } : {}),
  };
  const apiServerUrl = `https://127.0.0.1:${ports.apiServer}`;
  const nodeNames = Array.from({ length: opts.nodes ?? DEFAULT_NODE_COUNT }, (_, i) => `kwok-node-${i}`);
  const state: ClusterState = {
    name,
    stateDir,
    kubeconfig: join(stateDir, 'admin.kubeconfig'),
    restrictedKubeconfig: join(stateDir, 'restricted.kubeconfig'),
    apiServerUrl,
    ports,
    kubectl: bins.kubectl,
    versions: {
      kubernetes: K8S_VERSION,
      etcd: ETCD_VERSION,
      kwok: KWOK_VERSION,
      ...(metrics ? { metricsServer: METRICS_SERVER_VERSION } : {}),
    },
    metrics,
    nodes: nodeNames,
    startedAt: new Date().toISOString(),
    startupMs: 0,
    phase: 'starting',
    starterPid: process.pid,
    processes: {},
    ...(opts.ownerPid ? { ownerPid: opts.ownerPid } : {}),
  };
  await writeState(state);

  try {
    const logs = join(stateDir, 'logs');
    await mkdir(logs);
    const timings = { ...timingsFromEnv(), ...opts.timings };
    const [certs] = await Promise.all([
      generateCerts(
        join(stateDir, 'certs'),
        metrics ? [...CLIENTS, METRICS_SERVER_CLIENT] : CLIENTS,
        metrics ? [METRICS_SERVER_SERVING, KWOK_SERVING] : [],
      ),
      writeFile(join(stateDir, 'kwok-stages.yaml'), stagesYaml(timings)),
    ]);
    const kubeconfigFor = (file: string, contextName: string, user: string) =>
      writeKubeconfig(join(stateDir, `${file}.kubeconfig`), {
        server: apiServerUrl,
        caFile: certs.caCert,
        certFile: certs.clients[file]!.cert,
        keyFile: certs.clients[file]!.key,
        contextName,
        user,
      });
    await Promise.all([
      kubeconfigFor('admin', `tps-${name}`, `tps-${name}-admin`),
      kubeconfigFor('restricted', `tps-${name}-restricted`, RESTRICTED_USER),
      kubeconfigFor('controller-manager', `tps-${name}`, 'system:kube-controller-manager'),
      kubeconfigFor('scheduler', `tps-${name}`, 'system:kube-scheduler'),
      ...(metrics
        ? [kubeconfigFor(METRICS_SERVER_CLIENT.file, `tps-${name}`, METRICS_SERVER_CLIENT.commonName)]
        : []),
    ]);
    const spawnComponent = (c: Component) => {
      state.processes[c] = spawnDetached(
        bins[c],
        componentArgs(c, { stateDir, ports, certs, name, metrics }),
        {
          log: join(logs, `${c}.log`),
          cwd: stateDir,
        },
      );
    };

    // Everything starts at once: each component retries until its dependency answers.
    // metrics-server waits for its RBAC (it exits if it cannot read its authentication config).
    for (const c of components) if (c !== 'metrics-server') spawnComponent(c);
    await writeState(state);

    const assertAlive = () => {
      for (const c of components) {
        const ref = state.processes[c];
        if (ref && !isAlive(ref))
          throw new Error(`${c} exited during startup; last log lines:\n${tailFile(ref.log)}`);
      }
    };
    const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
    const admin = adminClient(state);
    await waitFor(
      'kube-apiserver /readyz',
      deadline,
      async () => ((await isReady(admin)) ? true : undefined),
      assertAlive,
    );
    log(`kube-apiserver ready after ${Date.now() - t0} ms`);

    await Promise.all([
      ...nodeNames.map(async (n) => {
        const res = await apiRequest(admin, 'POST', '/api/v1/nodes', fakeNode(n, metrics));
        if (res.status !== 201) throw new Error(`creating node ${n}: HTTP ${res.status} ${res.body}`);
      }),
      applyRestrictedRole(state.kubeconfig, 'default'),
      metrics
        ? (async () => {
            await applyObjects(admin, metricsRbacObjects());
            spawnComponent('metrics-server');
            await writeState(state);
            await applyObjects(
              admin,
              metricsApiObjects(ports.metricsServer!, readFileSync(certs.caCert, 'utf8')),
            );
          })()
        : undefined,
    ]);

    await Promise.all([
      metrics
        ? waitFor(
            'the metrics.k8s.io APIService to be Available',
            deadline,
            async () => ((await metricsApiAvailable(admin)) ? true : undefined),
            assertAlive,
            200,
          )
        : undefined,
      waitFor(
        'the default ServiceAccount',
        deadline,
        async () =>
          (await apiRequest(admin, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status ===
          200
            ? true
            : undefined,
        assertAlive,
      ),
      waitFor(
        `${nodeNames.length} Ready nodes`,
        deadline,
        async () => {
          const res = await apiRequest(admin, 'GET', '/api/v1/nodes');
          const list = JSON.parse(res.body) as {
            items: { status?: { conditions?: { type: string; status: string }[] } }[];
          };
          const ready = list.items.filter((n) =>
            n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          );
          return ready.length >= nodeNames.length ? true : undefined;
        },
        assertAlive,
      ),
    ]);

    if (opts.ownerPid) state.watchdog = startWatchdog(state, opts.ownerPid);
    state.phase = 'up';
    state.startupMs = Date.now() - t0;
    await writeState(state);
    log(`up in ${state.startupMs} ms; kubeconfig ${state.kubeconfig}`);
    return publicInfo(state);
  } catch (err) {
    if (process.env.TPS_KEEP_FAILED_CLUSTER) {
      log(`start failed; TPS_KEEP_FAILED_CLUSTER is set, leaving ${stateDir} and its processes`);
    } else {
      await stopAll(state, 2000);
      await rm(stateDir, { recursive: true, force: true });
    }
    throw err;
  }
}

/**
 * A detached shell that waits for `ownerPid` to exit and then stops the cluster (SIGTERM, then
 * SIGKILL after 5 s) and removes its state directory: an aborted test run cleans up anyway.
 */
function startWatchdog(state: ClusterState, ownerPid: number): ProcessRef {
  const groups = Object.values(state.processes).map((p) => `-${p.pid}`);
  const script = [
    'owner=$1; dir=$2; shift 2',
    'while kill -0 "$owner" 2>/dev/null; do sleep 1; done',
    'kill -TERM "$@" 2>/dev/null',
    'i=0; while [ $i -lt 50 ] && kill -0 "$@" 2>/dev/null; do sleep 0.1; i=$((i+1)); done',
    'kill -KILL "$@" 2>/dev/null',
    'rm -rf "$dir"',
  ].join('\n');
  return spawnDetached(
    'sh',
    ['-c', script, 'tps-cluster-watchdog', String(ownerPid), state.stateDir, ...groups],
    {
      log: '/dev/null',
      cwd: '/',
    },
  );
}

/**
 * Stops one component (SIGTERM, SIGKILL after the grace period) and starts it again with exactly
 * the same command line, after `downMs`: a restart in the middle of a release, for fault tests.
 * The watchdog is replaced so that it covers the new process.
 */
export async function restartComponent(
  name: string,
  component: Component,
  opts: { downMs?: number; graceMs?: number } = {},
): Promise<ProcessRef> {
  const stateDir = clusterStateDir(name);
  const state = readState(stateDir);
  const ref = state?.processes[component];
  if (!state || !ref || !isAlive(ref)) throw new Error(`${component} of cluster ${name} is not running`);
  const argv = readFileSync(`/proc/${ref.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  await stopProcesses([ref], opts.graceMs ?? 5000);
  if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
  const next = spawnDetached(argv[0]!, argv.slice(1), { log: ref.log, cwd: stateDir });
  state.processes[component] = next;
  if (state.watchdog && state.ownerPid) {
    await stopProcesses([state.watchdog], 1000);
    state.watchdog = startWatchdog(state, state.ownerPid);
  }
  await writeState(state);
  return next;
}

/** Stops every process of the cluster and removes its state directory. */
export async function stopCluster(name: string = DEFAULT_CLUSTER_NAME, graceMs = 5000): Promise<boolean> {
  const stateDir = clusterStateDir(name);
  const state = readState(stateDir);
  if (!state && !existsSync(stateDir)) return false;
  if (state) await stopAll(state, graceMs);
  await rm(stateDir, { recursive: true, force: true });
  return true;
}

/** Synchronous stop for `process.on('exit')` / signal handlers. */
export function stopClusterSync(name: string = DEFAULT_CLUSTER_NAME): void {
  const stateDir = clusterStateDir(name);
  const state = readState(stateDir);
  if (state) for (const group of stopGroups(state)) stopProcessesSync(group);
  rmSync(stateDir, { recursive: true, force: true });
}

export interface ClusterStatus {
  name: string;
  stateDir: string;
  /** 'absent': no state; 'up': every process alive and /readyz ok; 'degraded': anything else. */
  state: 'absent' | 'starting' | 'up' | 'degraded';
  info?: ClusterInfo;
  processes: { component: Component; pid: number; alive: boolean; log: string }[];
  apiServerReady: boolean;
  nodes: { name: string; ready: boolean }[];
}

export async function clusterStatus(name: string = DEFAULT_CLUSTER_NAME): Promise<ClusterStatus> {
  const stateDir = clusterStateDir(name);
  const state = readState(stateDir);
  if (!state) return { name, stateDir, state: 'absent', processes: [], apiServerReady: false, nodes: [] };
  const processes = COMPONENTS.flatMap((component) => {
    const ref = state.processes[component];
    return ref ? [{ component, pid: ref.pid, alive: isAlive(ref), log: ref.log }] : [];
  });
  let apiServerReady = false;
  let nodes: ClusterStatus['nodes'] = [];
  if (processes.some((p) => p.component === 'kube-apiserver' && p.alive)) {
    const admin = adminClient(state);
    apiServerReady = await isReady(admin);
    if (apiServerReady) {
      try {
        const res = await apiRequest(admin, 'GET', '/api/v1/nodes');
        const list = JSON.parse(res.body) as {
          items: {
            metadata: { name: string };
            status?: { conditions?: { type: string; status: string }[] };
          }[];
        };
        nodes = list.items.map((n) => ({
          name: n.metadata.name,
          ready: n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        }));
      } catch {
        // reported as no nodes
      }
    }
  }
  const allAlive =
    processes.length === clusterComponents(state.metrics ?? false).length && processes.every((p) => p.alive);
  const phase =
    state.phase === 'starting' && isLive(state)
      ? 'starting'
      : allAlive && apiServerReady && state.phase === 'up'
        ? 'up'
        : 'degraded';
  return { name, stateDir, state: phase, info: publicInfo(state), processes, apiServerReady, nodes };
}

/** Runs the cluster's kubectl with its admin kubeconfig; resolves with stdout. */
export function kubectl(info: Pick<ClusterInfo, 'kubectl' | 'kubeconfig'>, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(info.kubectl, [`--kubeconfig=${info.kubeconfig}`, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errOut = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      errOut += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(' ')} exited ${code}: ${errOut}`)),
    );
  });
}
