/**
 * The restricted identity the product's functions use (client certificate CN=tps-deploy-functions,
 * O=tps-deploy) and the RBAC it gets in each namespace it deploys to. The default manifest below
 * is what the local cluster applies; the product's shipped manifest (infra/k8s/tps-deploy-role.yaml)
 * can be passed instead as `manifestYaml`.
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

const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace']);

/**
 * The manifest's objects as they will be applied in `namespace`: namespaced objects get
 * `metadata.namespace` set (overriding any in the file); ServiceAccount subjects without a
 * namespace get it too. Cluster-scoped objects (ClusterRole, ...) are kept as they are.
 */
export function restrictedRoleObjects(
  namespace: string,
  manifestYaml: string = DEFAULT_RESTRICTED_ROLE_MANIFEST,
): KubernetesObject[] {
  const docs = loadAllYaml(manifestYaml).filter(
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
 * multi-document YAML string or a path ending in .yaml/.yml) in `namespace` with server-side
 * apply, as the identity of `kubeconfigPath` (an admin). Idempotent.
 */
export async function applyRestrictedRole(
  kubeconfigPath: string,
  namespace: string,
  manifestYaml?: string,
): Promise<KubernetesObject[]> {
  let manifest = manifestYaml;
  if (manifest !== undefined && /\.ya?ml$/.test(manifest) && !manifest.includes('\n')) {
    manifest = await readFile(manifest, 'utf8');
  }
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const client = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const obj of restrictedRoleObjects(namespace, manifest)) {
    applied.push(
      await client.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    );
  }
  return applied;
}
