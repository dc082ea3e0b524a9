/**
 * The resource metrics API (`metrics.k8s.io`) on the local control plane, wired the way kwokctl
 * wires it (KWOK v0.8.0 pkg/kwokctl/components/metrics_server.go), so that the real
 * horizontal-pod-autoscaler controller of kube-controller-manager can act on CPU and memory:
 *
 *   HPA controller -> kube-apiserver (aggregation layer, front-proxy client certificate)
 *     -> APIService v1beta1.metrics.k8s.io -> Service kube-system/metrics-server, type
 *        ExternalName 127.0.0.1, port = metrics-server's port
 *     -> metrics-server (a process on 127.0.0.1) -> scrapes every node's "kubelet" at
 *        InternalIP:daemonEndpoints.kubeletEndpoint.Port + the node's resource-metrics-path
 *     -> the KWOK server (127.0.0.1, TLS), whose `Metric` emulates /metrics/resource from the
 *        `ClusterResourceUsage` usage-from-annotation: each pod's usage is what its
 *        `kwok.x-k8s.io/usage-cpu` / `kwok.x-k8s.io/usage-memory` annotations say.
 *
 * Differences from kwokctl, each for a stricter check: metrics-server has its own identity (the
 * ServiceAccount the upstream RBAC binds) instead of the admin's; the kube-apiserver proxies with
 * a front-proxy certificate from its own CA (kubeadm's layout) instead of the admin certificate;
 * the APIService verifies metrics-server's serving certificate against the cluster CA instead of
 * `insecureSkipTLSVerify`; metrics-server verifies KWOK's certificate instead of
 * `--kubelet-insecure-tls`.
 */
import { readFileSync } from 'node:fs';
import { loadAllYaml } from '@kubernetes/client-node';
import type { CertPaths, ClientIdentity, ServerIdentity } from './certs.js';
import { apiRequest, type TlsClient } from './kubeconfig.js';
import { assetPath } from './versions.js';

/** Pod annotations KWOK's usage-from-annotation reads (Kubernetes quantities: `250m`, `64Mi`). */
export const USAGE_ANNOTATIONS = {
  cpu: 'kwok.x-k8s.io/usage-cpu',
  memory: 'kwok.x-k8s.io/usage-memory',
} as const;

/** Node annotation metrics-server v0.8 reads for the path of the node's resource metrics. */
export const RESOURCE_METRICS_PATH_ANNOTATION = 'metrics.k8s.io/resource-metrics-path';

/** metrics-server's scrape interval; 10 s is the smallest it accepts (kwokctl uses 15 s). */
export const METRIC_RESOLUTION_SECONDS = 10;

/**
 * kube-controller-manager's HPA sync period (default 15 s): every HPA is evaluated every second,
 * so the scale decision follows a metrics change within a second of metrics-server's next scrape.
 */
export const HPA_SYNC_PERIOD = '1s';

/** The API group/version metrics-server serves. */
export const METRICS_API_SERVICE = 'v1beta1.metrics.k8s.io';

const NAMESPACE = 'kube-system';
const SERVICE = 'metrics-server';

/**
 * metrics-server's client identity. The certificate names the ServiceAccount that the upstream
 * manifests/base/rbac.yaml binds (the x509 authenticator takes the user from the CN, the groups
 * from O), so that RBAC applies unchanged: node and pod reads, `system:auth-delegator` and the
 * extension-apiserver-authentication-reader Role in kube-system.
 */
export const METRICS_SERVER_CLIENT: ClientIdentity = {
  file: 'metrics-server-client',
  commonName: `system:serviceaccount:${NAMESPACE}:${SERVICE}`,
  organizations: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`],
};

/** The name the aggregator verifies: `<service>.<namespace>.svc` of the APIService's Service. */
export const METRICS_SERVER_SERVING: ServerIdentity = {
  file: 'metrics-server',
  commonName: SERVICE,
  sans: [`DNS:${SERVICE}.${NAMESPACE}.svc`, 'DNS:localhost', 'IP:127.0.0.1'],
};

/** KWOK's server stands in for every node's kubelet endpoint: metrics-server scrapes it over TLS. */
export const KWOK_SERVING: ServerIdentity = {
  file: 'kwok-serving',
  commonName: 'kwok',
  sans: ['DNS:localhost', 'IP:127.0.0.1'],
};

/** The node's IP when metrics are on: its "kubelet" (the KWOK server) really is at this address. */
export const METRICS_NODE_IP = '127.0.0.1';

export function metricsServerArgs(s: { port: number; kubeconfig: string; certs: CertPaths }): string[] {
  const serving = s.certs.servers[METRICS_SERVER_SERVING.file]!;
  return [
    // kwokctl's kubelet flags, except --kubelet-insecure-tls: KWOK's certificate is verified.
    '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
    '--kubelet-use-node-status-port',
    `--kubelet-certificate-authority=${s.certs.caCert}`,
    `--metric-resolution=${METRIC_RESOLUTION_SECONDS}s`,
    // Must stay below 90% of the resolution (metrics-server validates it; the default is 10 s).
    '--kubelet-request-timeout=5s',
    '--bind-address=127.0.0.1',
    `--secure-port=${s.port}`,
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
    `--kubeconfig=${s.kubeconfig}`,
    `--authentication-kubeconfig=${s.kubeconfig}`,
    `--authorization-kubeconfig=${s.kubeconfig}`,
    '--profiling=false',
    '--v=1',
  ];
}

/** KWOK flags added for metrics: node address and port of the kubelet endpoint, TLS, emulation. */
export function kwokMetricsArgs(s: { port: number; certs: CertPaths }): string[] {
  const serving = s.certs.servers[KWOK_SERVING.file]!;
  return [
    `--node-ip=${METRICS_NODE_IP}`,
    `--node-port=${s.port}`,
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
    // Upstream files, unchanged (KWOK reads them as configuration; no CRDs needed that way).
    `--config=${assetPath('usageFromAnnotation')}`,
    `--config=${assetPath('metricsResource')}`,
  ];
}

/** Annotations a fake node needs so metrics-server scrapes KWOK's per-node endpoint. */
export function nodeMetricsAnnotations(nodeName: string): Record<string, string> {
  return { [RESOURCE_METRICS_PATH_ANNOTATION]: `/metrics/nodes/${nodeName}/metrics/resource` };
}

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
};

function loadAsset(asset: Parameters<typeof assetPath>[0]): Obj[] {
  return loadAllYaml(readFileSync(assetPath(asset), 'utf8')).filter(
    (d): d is Obj => d !== null && typeof d === 'object' && 'kind' in d,
  );
}

/** metrics-server's upstream RBAC (ServiceAccount, ClusterRoles, bindings), unchanged. */
export function metricsRbacObjects(): Obj[] {
  return loadAsset('rbac');
}

/**
 * The upstream Service and APIService, rewritten for a process outside the cluster as kwokctl
 * does (BuildMetricsServerManifest): the Service becomes `type: ExternalName` 127.0.0.1 without
 * ports or selector, and the APIService's port is metrics-server's. Unlike kwokctl, the
 * APIService trusts the cluster CA instead of skipping TLS verification.
 */
export function metricsApiObjects(port: number, caCertPem: string): Obj[] {
  const service = loadAsset('service').map((o) => {
    const { ports: _p, selector: _s, ...spec } = o.spec ?? {};
    return { ...o, spec: { ...spec, type: 'ExternalName', externalName: METRICS_NODE_IP } };
  });
  const apiService = loadAsset('apiService').map((o) => {
    const { insecureSkipTLSVerify: _i, ...spec } = o.spec ?? {};
    const svc = spec.service as Record<string, unknown>;
    return {
      ...o,
      spec: { ...spec, service: { ...svc, port }, caBundle: Buffer.from(caCertPem).toString('base64') },
    };
  });
  return [...service, ...apiService];
}

const RESOURCES: Record<string, string> = {
  ServiceAccount: 'serviceaccounts',
  Service: 'services',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  APIService: 'apiservices',
};

function objectPath(o: Obj): string {
  const resource = RESOURCES[o.kind];
  if (!resource) throw new Error(`metrics wiring: no REST path known for kind ${o.kind}`);
  const base = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion}`;
  const ns = o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : '';
  return `${base}${ns}/${resource}/${o.metadata.name}`;
}

/** Server-side apply of each object (idempotent), as the admin. */
export async function applyObjects(admin: TlsClient, objects: Obj[]): Promise<void> {
  await Promise.all(
    objects.map(async (o) => {
      const res = await apiRequest(
        admin,
        'PATCH',
        `${objectPath(o)}?fieldManager=tps-deploy-local-cluster&force=true`,
        JSON.stringify(o),
        { contentType: 'application/apply-patch+yaml' },
      );
      if (res.status !== 200 && res.status !== 201) {
        throw new Error(`applying ${o.kind} ${o.metadata.name}: HTTP ${res.status} ${res.body}`);
      }
    }),
  );
}

/** True once the aggregator reports the metrics APIService Available. */
export async function metricsApiAvailable(admin: TlsClient): Promise<boolean> {
  const res = await apiRequest(
    admin,
    'GET',
    `/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_API_SERVICE}`,
  );
  if (res.status !== 200) return false;
  const obj = JSON.parse(res.body) as { status?: { conditions?: { type: string; status: string }[] } };
  return obj.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') ?? false;
}
