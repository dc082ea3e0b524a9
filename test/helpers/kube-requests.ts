/**
 * What the functions really ask of the Kubernetes API, in RBAC's terms: each request a client sends
 * as (apiGroup, resource[/subresource], verb), read from its method and URL the way kube-apiserver's
 * request-info resolver does (GET on a collection is `list`, with `watch=true` it is `watch`, on a
 * named object `get`; POST `create`, PUT `update`, PATCH `patch`, DELETE `delete` or
 * `deletecollection`). And the shipped manifest's Roles in the same terms, to compare with.
 */
import { readFileSync } from 'node:fs';
import {
  loadAllYaml,
  type Middleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { ClusterAccess, TaskKey } from '../../functions/contract/tasks.js';
import { fillAppName, SHIPPED_ROLE_NAMES } from '../../local/cluster/restricted-role.js';
import { ROLE_MANIFEST } from './k8s.js';

/** One permission, `apiGroup|resource|verb` (the core group is ''). */
export type Permission = string;

export function permission(apiGroup: string, resource: string, verb: string): Permission {
  return `${apiGroup}|${resource}|${verb}`;
}

/** A request as RBAC sees it, or null for a non-resource URL (/version, /apis, ...). */
export function requestPermission(
  method: string,
  url: string,
): { permission: Permission; namespace: string | null } | null {
  const u = new URL(url);
  const seg = u.pathname.split('/').filter(Boolean);
  let group: string;
  let rest: string[];
  if (seg[0] === 'api') {
    group = '';
    rest = seg.slice(2);
  } else if (seg[0] === 'apis') {
    group = seg[1] ?? '';
    rest = seg.slice(3);
  } else {
    return null;
  }
  let namespace: string | null = null;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const [resource, name, sub] = rest;
  if (!resource) return null;
  const m = method.toUpperCase();
  const verb =
    m === 'GET'
      ? name
        ? 'get'
        : u.searchParams.get('watch') === 'true'
          ? 'watch'
          : 'list'
      : m === 'POST'
        ? 'create'
        : m === 'PUT'
          ? 'update'
          : m === 'PATCH'
            ? 'patch'
            : m === 'DELETE'
              ? name
                ? 'delete'
                : 'deletecollection'
              : m.toLowerCase();
  return { permission: permission(group, sub ? `${resource}/${sub}` : resource, verb), namespace };
}

/** One request a task's function sent. */
export interface TaskRequest {
  readonly task: TaskKey;
  readonly access: ClusterAccess;
  readonly permission: Permission;
  readonly namespace: string | null;
  readonly line: string;
}

/** A middleware factory for LocalEnvironment's `taskKubeMiddleware` that records every request. */
export function requestRecorder(): {
  readonly requests: TaskRequest[];
  /** The HTTP status of every answer, by task. */
  readonly answers: { readonly task: TaskKey; readonly status: number }[];
  readonly middleware: (task: TaskKey, access: ClusterAccess) => readonly Middleware[];
} {
  const requests: TaskRequest[] = [];
  const answers: { task: TaskKey; status: number }[] = [];
  return {
    requests,
    answers,
    middleware: (task, access) => [
      {
        pre: async (ctx: RequestContext) => {
          const method = String(ctx.getHttpMethod());
          const p = requestPermission(method, ctx.getUrl());
          if (p)
            requests.push({
              task,
              access,
              ...p,
              line: `${task} ${method} ${new URL(ctx.getUrl()).pathname}`,
            });
          return ctx;
        },
        post: async (res: ResponseContext) => {
          answers.push({ task, status: res.httpStatusCode });
          return res;
        },
      },
    ],
  };
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
}

/** Every (apiGroup, resource, verb) a list of policy rules allows (resourceNames ignored). */
export function expandRules(rules: readonly Rule[]): Set<Permission> {
  const out = new Set<Permission>();
  for (const r of rules) {
    for (const g of r.apiGroups ?? []) {
      for (const res of r.resources ?? []) for (const v of r.verbs ?? []) out.add(permission(g, res, v));
    }
  }
  return out;
}

/** The shipped manifest (filled with `appName`): its Role of each access, expanded. */
export function shippedPermissions(appName: string): Record<ClusterAccess, Set<Permission>> {
  const docs = loadAllYaml(fillAppName(readFileSync(ROLE_MANIFEST, 'utf8'), appName)) as {
    kind: string;
    metadata: { name: string };
    rules?: Rule[];
  }[];
  const roleOf = (name: string) => {
    const role = docs.find((d) => d.kind === 'Role' && d.metadata.name === name);
    if (!role) throw new Error(`the shipped manifest has no Role ${name}`);
    return expandRules(role.rules ?? []);
  };
  return { read: roleOf(SHIPPED_ROLE_NAMES.read), write: roleOf(SHIPPED_ROLE_NAMES.write) };
}

/** Sorted, for readable test failures. */
export function sorted(s: Iterable<Permission>): Permission[] {
  return [...s].sort();
}
