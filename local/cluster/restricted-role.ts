/**
 * RBAC in the namespaces the functions deploy to. Two kinds of manifest are applied here:
 * - the product's shipped manifest (infra/k8s/tps-deploy-role.yaml): a read and a write Role bound
 *   to the app's groups `tps-deploy-<appName>-read|write`; its placeholder {@link APP_NAME_PLACEHOLDER}
 *   is filled with the app name, as the documented `sed` step does (docs/deploying.md). The local
 *   identities of those groups are minted by identities.ts.
 * - the default manifest below: a generic restricted identity (client certificate
 *   CN=tps-deploy-functions, O=tps-deploy) that the local cluster binds in `default`, for tools and
 *   tests that need a non-admin identity but not the product's.
 */
import { readFile } from 'node:fs/promises';
import {
  dumpYaml,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
} from '@kubernetes/client-node';

export const RESTRICTED_USER = 'tps-deploy-functions';
export const RESTRICTED_GROUP = 'tps-deploy';
export const RESTRICTED_ROLE_NAME = 'tps-deploy-functions';
export const FIELD_MANAGER = 'tps-deploy-local-cluster';
/** Names of the shipped manifest's Roles (and RoleBindings), per cluster access. */
export const SHIPPED_ROLE_NAMES = { read: 'tps-deploy-read', write: 'tps-deploy-write' } as const;

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** What a deployment tool needs in the namespaces it deploys to, and nothing more. */
export const RESTRICTED_RULES: PolicyRule[] = [
  {
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
  {
    apiGroups: [''],
    resources: ['services'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  {
    apiGroups: ['discovery.k8s.io'],
    resources: ['endpointslices'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['ingresses'],
    verbs: ['get', 'list', 'watch', 'patch', 'update'],
  },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
  { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get', 'list', 'watch'] },
];

/** Role + RoleBinding without a namespace: `applyRestrictedRole` places them. */
export const DEFAULT_RESTRICTED_ROLE_MANIFEST: string = [
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: RESTRICTED_ROLE_NAME, labels: { 'app.kubernetes.io/part-of': 'tps-deploy' } },
    rules: RESTRICTED_RULES,
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: RESTRICTED_ROLE_NAME, labels: { 'app.kubernetes.io/part-of': 'tps-deploy' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: RESTRICTED_ROLE_NAME },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: RESTRICTED_USER }],
  },
]
  .map((d) => dumpYaml(d))
  .join('---\n');

/** The placeholder of the app name in the shipped manifest (infra/k8s/tps-deploy-role.yaml). */
export const APP_NAME_PLACEHOLDER = 'TPS_APP_NAME';

/**
 * The manifest with every {@link APP_NAME_PLACEHOLDER} replaced by `appName` (what
 * `sed 's/TPS_APP_NAME/<appName>/g'` does). A manifest with the placeholder and no app name is
 * refused: applied as it is, it would bind groups no function is in.
 */
export function fillAppName(manifestYaml: string, appName: string | undefined): string {
  if (!manifestYaml.includes(APP_NAME_PLACEHOLDER)) return manifestYaml;
  if (appName === undefined) {
    throw new Error(
      `the manifest names its groups with the placeholder ${APP_NAME_PLACEHOLDER}: pass the catalog's appName to fill it`,
    );
  }
  if (!/^[A-Za-z][A-Za-z0-9-]{0,30}$/.test(appName)) {
    throw new Error(
      `invalid appName ${JSON.stringify(appName)}: use a letter, then up to 30 letters, digits or '-'`,
    );
  }
  return manifestYaml.replaceAll(APP_NAME_PLACEHOLDER, appName);
}

const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace']);

/**
 * The manifest's objects as they will be applied in `namespace`: namespaced objects get
 * `metadata.namespace` set (overriding any in the file); ServiceAccount subjects without a
 * namespace get it too. Cluster-scoped objects (ClusterRole, ...) are kept as they are.
 */
export function restrictedRoleObjects(
  namespace: string,
  manifestYaml: string = DEFAULT_RESTRICTED_ROLE_MANIFEST,
  appName?: string,
): KubernetesObject[] {
  const docs = loadAllYaml(fillAppName(manifestYaml, appName)).filter(
    (d): d is KubernetesObject => d !== null && typeof d === 'object' && 'kind' in d,
  );
  if (docs.length === 0) throw new Error('the restricted role manifest contains no objects');
  return docs.map((doc) => {
    const obj = structuredClone(doc) as KubernetesObject & {
      subjects?: { kind: string; namespace?: string }[];
    };
    if (!obj.kind || !obj.apiVersion || !obj.metadata?.name) {
      throw new Error(`manifest object without apiVersion/kind/metadata.name: ${JSON.stringify(doc)}`);
    }
    if (!CLUSTER_SCOPED.has(obj.kind)) obj.metadata = { ...obj.metadata, namespace };
    for (const s of obj.subjects ?? []) {
      if (s.kind === 'ServiceAccount' && !s.namespace) s.namespace = namespace;
    }
    return obj;
  });
}

/**
 * Applies the restricted identity's Role + RoleBinding (or the objects of `manifestYaml`, a
 * multi-document YAML string or a path ending in .yaml/.yml, with its app-name placeholder filled
 * with `appName`) in `namespace` with server-side apply, as the identity of `kubeconfigPath` (an
 * admin). Idempotent.
 */
export async function applyRestrictedRole(
  kubeconfigPath: string,
  namespace: string,
  manifestYaml?: string,
  appName?: string,
): Promise<KubernetesObject[]> {
  let manifest = manifestYaml;
  if (manifest !== undefined && /\.ya?ml$/.test(manifest) && !manifest.includes('\n')) {
    manifest = await readFile(manifest, 'utf8');
  }
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const client = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const obj of restrictedRoleObjects(namespace, manifest, appName)) {
    applied.push(
      await client.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    );
  }
  return applied;
}
