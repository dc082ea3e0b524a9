/**
 * The doctor's view of one cluster, read as the person running it, through the CLI's cluster
 * clients (cli/aws-ports.ts `cliClusters`: EKS or `--kubeconfig`): the service's Deployment,
 * Service and Ingress, the IngressClasses, and, by SubjectAccessReview, whether a function group
 * may do what the functions need. What they need is read from the shipped Role manifest
 * (infra/k8s/tps-deploy-role.yaml), the file people apply: the group a RoleBinding binds gets the
 * rules of the Role it refers to.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { nullIfNotFound } from '../../functions/adapters/kubernetes/client.js';
import type { ClusterConnection } from '../aws-ports.js';
import type { ClusterProbe, IngressFacts, Permission } from './ports.js';

/** The shipped Roles and RoleBindings (app name a placeholder). */
export const ROLE_MANIFEST_PATH: string = fileURLToPath(
  new URL('../../infra/k8s/tps-deploy-role.yaml', import.meta.url),
);
/** The placeholder of the app name in the manifest (`sed 's/TPS_APP_NAME/<appName>/g'`). */
export const ROLE_MANIFEST_APP_PLACEHOLDER = 'TPS_APP_NAME';

/** The command that (re)applies the shipped Roles in a namespace. */
export function applyRoleCommand(appName: string, namespace: string): string {
  return `sed 's/${ROLE_MANIFEST_APP_PLACEHOLDER}/${appName}/g' infra/k8s/tps-deploy-role.yaml | kubectl -n ${namespace} apply -f -`;
}

interface ManifestObject {
  kind?: string;
  metadata?: { name?: string };
  rules?: { apiGroups?: string[]; resources?: string[]; verbs?: string[] }[];
  roleRef?: { kind?: string; name?: string };
  subjects?: { kind?: string; name?: string }[];
}

/**
 * Each group the manifest binds (filled with `appName`) and the permissions of its Role, one per
 * API group, resource and verb, in the manifest's order.
 */
export function shippedRolePermissions(
  appName: string,
  manifest: string = readFileSync(ROLE_MANIFEST_PATH, 'utf8'),
): Map<string, Permission[]> {
  const objects = parseAllDocuments(manifest.replaceAll(ROLE_MANIFEST_APP_PLACEHOLDER, appName))
    .map((d) => d.toJS() as ManifestObject | null)
    .filter((o): o is ManifestObject => o !== null && typeof o === 'object');
  const roles = new Map<string, Permission[]>();
  for (const o of objects) {
    if (o.kind !== 'Role' || !o.metadata?.name) continue;
    roles.set(
      o.metadata.name,
      (o.rules ?? []).flatMap((r) =>
        (r.apiGroups ?? []).flatMap((apiGroup) =>
          (r.resources ?? []).flatMap((resource) =>
            (r.verbs ?? []).map((verb) => ({ apiGroup, resource, verb })),
          ),
        ),
      ),
    );
  }
  const byGroup = new Map<string, Permission[]>();
  for (const o of objects) {
    if (o.kind !== 'RoleBinding' || o.roleRef?.kind !== 'Role') continue;
    const rules = roles.get(o.roleRef.name ?? '') ?? [];
    for (const s of o.subjects ?? []) {
      if (s.kind === 'Group' && s.name) byGroup.set(s.name, [...(byGroup.get(s.name) ?? []), ...rules]);
    }
  }
  return byGroup;
}

/** `verb resource.group` as kubectl spells it (`get deployments.apps`, `list pods`). */
export function permissionText(p: Permission): string {
  return `${p.verb} ${p.resource}${p.apiGroup ? `.${p.apiGroup}` : ''}`;
}

/** The probe of one cluster connection. Reads go through the adapters' retrying calls. */
export function clusterProbe(connection: ClusterConnection): ClusterProbe {
  const { clients } = connection;
  const authorization = connection.kubeConfig.makeApiClient(AuthorizationV1Api);
  const read = <T>(what: string, fn: () => Promise<T>) => nullIfNotFound(() => clients.call.run(what, fn));
  return {
    async deployment(namespace, name) {
      const d = await read(`read Deployment ${namespace}/${name}`, () =>
        clients.apps.readNamespacedDeployment({ name, namespace }),
      );
      if (!d) return null;
      return {
        containers: (d.spec?.template.spec?.containers ?? []).map((c) => ({
          name: c.name,
          image: c.image ?? '',
        })),
        podLabels: d.spec?.template.metadata?.labels ?? {},
        matchLabels: d.spec?.selector.matchLabels ?? {},
      };
    },
    async serviceSelector(namespace, name) {
      const s = await read(`read Service ${namespace}/${name}`, () =>
        clients.core.readNamespacedService({ name, namespace }),
      );
      return s ? (s.spec?.selector ?? {}) : null;
    },
    async ingress(namespace, name): Promise<IngressFacts | null> {
      const i = await read(`read Ingress ${namespace}/${name}`, () =>
        clients.networking.readNamespacedIngress({ name, namespace }),
      );
      if (!i) return null;
      const backends = (i.spec?.rules ?? []).flatMap((r) =>
        (r.http?.paths ?? []).flatMap((p) =>
          p.backend.service
            ? [
                {
                  service: p.backend.service.name,
                  port: p.backend.service.port?.name ?? p.backend.service.port?.number ?? null,
                },
              ]
            : [],
        ),
      );
      const dflt = i.spec?.defaultBackend?.service;
      return {
        className: i.spec?.ingressClassName ?? null,
        classAnnotation: i.metadata?.annotations?.['kubernetes.io/ingress.class'] ?? null,
        backends: dflt
          ? [...backends, { service: dflt.name, port: dflt.port?.name ?? dflt.port?.number ?? null }]
          : backends,
      };
    },
    async ingressClasses() {
      const list = await clients.call.run('list IngressClasses', () => clients.networking.listIngressClass());
      return list.items.map((c) => ({
        name: c.metadata?.name ?? '',
        controller: c.spec?.controller ?? '',
        isDefault: c.metadata?.annotations?.['ingressclass.kubernetes.io/is-default-class'] === 'true',
      }));
    },
    async groupMay(group, namespace, p) {
      const review = await clients.call.run(`SubjectAccessReview for ${group}`, () =>
        authorization.createSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              groups: [group],
              resourceAttributes: { namespace, verb: p.verb, group: p.apiGroup, resource: p.resource },
            },
          },
        }),
      );
      return review.status?.allowed === true;
    },
  };
}
