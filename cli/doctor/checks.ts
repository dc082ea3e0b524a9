/**
 * The doctor's checks: everything a first release needs, asked of the real environment. Each is a
 * small function over the ports (ports.ts) that returns one result per thing it checked: PASS,
 * FAIL with the exact fix, or SKIP when what it needs is missing (the stack's output, the catalog,
 * the Deployment) and another check already says so. A check never throws: a port that fails
 * makes its check FAIL with the reason (a check that could not be made is not passed).
 *
 * Where the functions' own code judges the same thing, the doctor uses it: the monitoring gate
 * (`judgeMonitoring`), the metrics-present gate (`judgeMetrics`, over the same metrics source),
 * the weekly on-call schedule (`onCallAt`) and the on-call endpoint's adapter.
 */
import { RUNBOOK_OUTPUT_KEY, type RunbookOutput } from '../../functions/contract/runbook-output.js';
import type { ServiceConfig } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import { judgeMetrics, judgeMonitoring, serviceAlarmNames } from '../../functions/domain/gates.js';
import { imageVersion } from '../../functions/domain/image.js';
import { onCallAt, WEEKDAYS } from '../../functions/domain/schedule.js';
import { describeAwsError } from '../context.js';
import { applyRoleCommand, permissionText } from './kube.js';
import {
  CHECKS,
  type CheckId,
  type CheckResult,
  type ClusterFacts,
  type ClusterProbe,
  type DoctorPorts,
  type DoctorScope,
} from './ports.js';

/** The controller of the AWS Load Balancer Controller's IngressClass. */
export const ALB_INGRESS_CONTROLLER = 'ingress.k8s.aws/alb';

const pass = (check: CheckId, subject: string | null, detail: string): CheckResult => ({
  check,
  subject,
  status: 'PASS',
  detail,
  fix: null,
});
const fail = (check: CheckId, subject: string | null, detail: string, fix: string): CheckResult => ({
  check,
  subject,
  status: 'FAIL',
  detail,
  fix,
});
const skip = (check: CheckId, subject: string | null, detail: string): CheckResult => ({
  check,
  subject,
  status: 'SKIP',
  detail,
  fix: null,
});

function errorText(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return e?.message ? `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}` : String(error);
}

/** A check over every selected service, each in its own result; no catalog: one SKIP. */
async function perService(
  check: CheckId,
  scope: DoctorScope,
  fn: (name: string, svc: ServiceConfig) => Promise<CheckResult>,
): Promise<CheckResult[]> {
  if (!scope.catalog) return [noCatalog(check)];
  return Promise.all(
    scope.services.map(async ([name, svc]) => {
      try {
        return await fn(name, svc);
      } catch (error) {
        // Throttling or a network failure that outlasted the retries.
        return fail(check, name, `could not be checked: ${errorText(error)}`, 'run doctor again');
      }
    }),
  );
}

function noCatalog(check: CheckId): CheckResult {
  return skip(check, null, 'no catalog: the stack gives none and no --config was given (see stack)');
}

function runbookOf(scope: DoctorScope): RunbookOutput | null {
  return scope.runbook?.ok ? scope.runbook.value : null;
}

/** The command that deploys the stack (named after appName unless `--stack` says otherwise). */
function deploy(scope: DoctorScope): string {
  const name = scope.stackName ?? scope.catalog?.appName;
  return name ? `npx cdk deploy ${name}` : 'npx cdk deploy';
}

const needsOutput = (check: CheckId, subject: string | null) =>
  skip(check, subject, `needs the stack's ${RUNBOOK_OUTPUT_KEY} output (see stack)`);

/** The selected services' clusters, once each. */
function clustersOf(scope: DoctorScope): { name: string; region: string; services: string[] }[] {
  const out = new Map<string, { name: string; region: string; services: string[] }>();
  for (const [service, svc] of scope.services) {
    const key = `${svc.cluster.region}/${svc.cluster.name}`;
    const c = out.get(key) ?? { name: svc.cluster.name, region: svc.cluster.region, services: [] };
    c.services.push(service);
    out.set(key, c);
  }
  return [...out.values()];
}

/** A probe of the service's cluster, or a FAIL saying it cannot be reached. */
async function probeOf(
  ports: DoctorPorts,
  check: CheckId,
  subject: string,
  svc: ServiceConfig,
): Promise<ClusterProbe | CheckResult> {
  try {
    return await ports.cluster(svc);
  } catch (error) {
    return fail(
      check,
      subject,
      `cannot reach cluster ${svc.cluster.name} (${svc.cluster.region}): ${errorText(error)}`,
      `check your network, VPN and access to the cluster: aws eks update-kubeconfig --name ${svc.cluster.name} --region ${svc.cluster.region} && kubectl -n ${svc.namespace} get deployments (or pass --kubeconfig)`,
    );
  }
}

const isResult = (x: unknown): x is CheckResult => typeof x === 'object' && x !== null && 'status' in x;

const readFix = (namespace: string) =>
  `run doctor as an identity that may read the namespace: kubectl -n ${namespace} auth can-i get deployments,services,ingresses`;

// ---- a. credentials and region ---------------------------------------------------------------------

/** The AWS credentials work (STS GetCallerIdentity) and a region is set. */
export async function checkCredentials(ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  const c = CHECKS.credentials;
  if (!scope.region) {
    return [
      fail(
        c,
        null,
        'no AWS region: none given, none from the stack, none in the environment or profile',
        'pass --region <region> or set AWS_REGION (or: aws configure set region <region> --profile <profile>)',
      ),
    ];
  }
  try {
    const who = await ports.whoAmI();
    return [pass(c, null, `${who.arn} (account ${who.account}), region ${scope.region}`)];
  } catch (error) {
    return [
      fail(
        c,
        null,
        `STS GetCallerIdentity failed: ${describeAwsError(error)}`,
        'log in (aws sso login --profile <profile>) and set AWS_PROFILE or pass --profile; check with: aws sts get-caller-identity',
      ),
    ];
  }
}

// ---- b. the stack and its output ---------------------------------------------------------------------

/** The stack exists and its TpsDeployRunbook output parses. */
export async function checkStack(_ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  const c = CHECKS.stack;
  const stack = scope.stackName;
  if (!stack || !scope.runbook) {
    return [
      fail(
        c,
        null,
        `no --stack: the deployed runbook is unknown, so the endpoint, access-entry and Role checks cannot run`,
        `pass --stack <name> or set TPS_STACK (npx cdk deploy names the stack after appName${scope.catalog ? `: --stack ${scope.catalog.appName}` : ''})`,
      ),
    ];
  }
  if (!scope.runbook.ok) {
    const { error, problem } = scope.runbook;
    const where = scope.region ? ` --region ${scope.region}` : '';
    const fix =
      problem === 'no-stack'
        ? `check the name and region: aws cloudformation describe-stacks --stack-name ${stack}${where}; deploy it with npx cdk deploy`
        : problem === 'no-output' || problem === 'unparseable'
          ? `redeploy the stack with this version of tps-deploy, which writes ${RUNBOOK_OUTPUT_KEY}: npx cdk deploy ${stack}`
          : `check the credentials (see credentials) and that they may call cloudformation:DescribeStacks`;
    return [fail(c, stack, error, fix)];
  }
  const r = scope.runbook.value;
  const machines = Object.keys(r.stateMachines);
  return [
    pass(
      c,
      stack,
      `output ${RUNBOOK_OUTPUT_KEY} (schema ${r.schema}): app ${r.appName} in ${r.region}, table ${r.tableName}, ${machines.length} state machine${machines.length === 1 ? '' : 's'} (${machines.join(', ')}), answer endpoint ${r.answerUrl}`,
    ),
  ];
}

// ---- c. the cluster endpoint, reachable from the functions' network ---------------------------------

const OPEN = '0.0.0.0/0';

/**
 * Whether the cluster tasks, with the stack's network settings, can reach the cluster's API
 * endpoint. Outside a VPC (no subnets) a function has no fixed address: it needs the public
 * endpoint open to 0.0.0.0/0. In a VPC it reaches the private endpoint when that is on, else the
 * public one through the VPC's NAT (whose address must then be allowed; not visible from here).
 */
export function judgeEndpoint(
  cluster: { readonly name: string; readonly region: string },
  facts: ClusterFacts,
  network: RunbookOutput['network'],
): Pick<CheckResult, 'status' | 'detail' | 'fix'> {
  const update = `aws eks update-cluster-config --name ${cluster.name} --region ${cluster.region} --resources-vpc-config`;
  if (facts.status !== 'ACTIVE') {
    return {
      status: 'FAIL',
      detail: `cluster ${cluster.name} is ${facts.status}, not ACTIVE`,
      fix: `wait until it is ACTIVE (aws eks describe-cluster --name ${cluster.name} --region ${cluster.region} --query cluster.status), or correct the service's cluster in the catalog`,
    };
  }
  const cidrs = facts.publicAccessCidrs.length ? facts.publicAccessCidrs : [OPEN];
  const open = cidrs.includes(OPEN);
  const endpoint = `endpoint public ${facts.endpointPublicAccess ? `on (${cidrs.join(', ')})` : 'off'}, private ${facts.endpointPrivateAccess ? 'on' : 'off'}`;
  const inVpc = network.subnetIds.length > 0;
  const declared = `the stack's network: endpointAccess '${network.endpointAccess}', functions ${inVpc ? `in subnets ${network.subnetIds.join(', ')}` : 'outside any VPC'}`;
  const vpc = facts.vpcId ?? '<the cluster VPC>';
  if (!inVpc) {
    if (!facts.endpointPublicAccess) {
      return {
        status: 'FAIL',
        detail: `${endpoint}; ${declared}: functions outside a VPC cannot reach a private-only endpoint`,
        fix: `deploy the stack with network { endpointAccess: 'private', vpc: ${vpc} } (docs/deploying.md, "Reaching the cluster: EKS endpoint modes"), or open the public endpoint: ${update} endpointPublicAccess=true,publicAccessCidrs=${OPEN}`,
      };
    }
    if (!open) {
      return {
        status: 'FAIL',
        detail: `${endpoint}; ${declared}: a function outside a VPC has no fixed address, so an endpoint limited to ${cidrs.join(', ')} refuses it`,
        fix: `deploy the stack with network { endpointAccess: 'public', vpc: ${vpc} } and add the VPC's NAT address to publicAccessCidrs, or turn the private endpoint on (${update} endpointPrivateAccess=true) and deploy with network { endpointAccess: 'public-and-private', vpc: ${vpc} }`,
      };
    }
    return { status: 'PASS', detail: `${endpoint}; ${declared}: the open public endpoint`, fix: null };
  }
  if (facts.endpointPrivateAccess) {
    return {
      status: 'PASS',
      detail: `${endpoint}; ${declared}: the private endpoint (the subnets must be in ${vpc} or a network resolving its private zone; their security groups must allow TCP 443 to the cluster)`,
      fix: null,
    };
  }
  if (network.endpointAccess !== 'public') {
    return {
      status: 'FAIL',
      detail: `${endpoint}; ${declared}: the stack expects the private endpoint, which is off`,
      fix: `turn the private endpoint on: ${update} endpointPrivateAccess=true`,
    };
  }
  return {
    status: 'PASS',
    detail: `${endpoint}; ${declared}: the public endpoint through the VPC's NAT${open ? '' : ` (its address must be in ${cidrs.join(', ')}; not checked here)`}`,
    fix: null,
  };
}

/** Each catalog cluster is ACTIVE and its endpoint reachable from the functions' network. */
export async function checkEndpoints(ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  const c = CHECKS.endpoint;
  if (!scope.catalog) return [noCatalog(c)];
  const runbook = runbookOf(scope);
  return Promise.all(
    clustersOf(scope).map(async (cluster) => {
      if (!runbook) return needsOutput(c, cluster.name);
      let facts: ClusterFacts;
      try {
        facts = await ports.eks.describeCluster(cluster.name, cluster.region);
      } catch (error) {
        return fail(
          c,
          cluster.name,
          `EKS DescribeCluster ${cluster.name} (${cluster.region}) failed: ${describeAwsError(error)}`,
          `check the cluster's name and region in the catalog (services ${cluster.services.join(', ')}) and that you may call eks:DescribeCluster: aws eks describe-cluster --name ${cluster.name} --region ${cluster.region}`,
        );
      }
      const j = judgeEndpoint(cluster, facts, runbook.network);
      return { check: c, subject: cluster.name, ...j };
    }),
  );
}

// ---- d. the access entries ---------------------------------------------------------------------

const API_MODES = new Set(['API', 'API_AND_CONFIG_MAP']);

/** Each cluster function role has an access entry in each catalog cluster, in its groups. */
export async function checkAccessEntries(ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  const c = CHECKS.accessEntries;
  if (!scope.catalog) return [noCatalog(c)];
  const runbook = runbookOf(scope);
  return Promise.all(
    clustersOf(scope).map(async (cluster) => {
      if (!runbook) return needsOutput(c, cluster.name);
      const where = `--cluster-name ${cluster.name} --region ${cluster.region}`;
      try {
        const facts = await ports.eks.describeCluster(cluster.name, cluster.region);
        if (facts.authenticationMode !== null && !API_MODES.has(facts.authenticationMode)) {
          return fail(
            c,
            cluster.name,
            `authentication mode ${facts.authenticationMode}: access entries are ignored`,
            `aws eks update-cluster-config --name ${cluster.name} --region ${cluster.region} --access-config authenticationMode=API_AND_CONFIG_MAP`,
          );
        }
        if (runbook.clusterAccess.length === 0) {
          return fail(
            c,
            cluster.name,
            `the stack's output names no function roles for the clusters`,
            `redeploy the stack: ${deploy(scope)}`,
          );
        }
        for (const access of runbook.clusterAccess) {
          const groups = await ports.eks.accessEntryGroups(cluster.name, cluster.region, access.roleArn);
          const wanted = access.kubernetesGroups.join(' ');
          if (groups === null) {
            return fail(
              c,
              cluster.name,
              `no access entry for ${access.roleArn} (task ${access.task}): its function cannot authenticate to the cluster`,
              `redeploy the stack that creates it (${deploy(scope)}), or: aws eks create-access-entry ${where} --principal-arn ${access.roleArn} --kubernetes-groups ${wanted}`,
            );
          }
          const missing = access.kubernetesGroups.filter((g) => !groups.includes(g));
          if (missing.length > 0) {
            return fail(
              c,
              cluster.name,
              `the access entry of ${access.roleArn} (task ${access.task}) has groups ${groups.join(', ') || '(none)'}, not ${missing.join(', ')}`,
              `aws eks update-access-entry ${where} --principal-arn ${access.roleArn} --kubernetes-groups ${wanted}`,
            );
          }
        }
      } catch (error) {
        return fail(
          c,
          cluster.name,
          `EKS DescribeAccessEntry failed: ${describeAwsError(error)}`,
          `check that you may call eks:DescribeCluster and eks:DescribeAccessEntry: aws eks list-access-entries ${where}`,
        );
      }
      const groups = [...new Set(runbook.clusterAccess.flatMap((a) => a.kubernetesGroups))];
      return pass(
        c,
        cluster.name,
        `${runbook.clusterAccess.length} function role${runbook.clusterAccess.length === 1 ? '' : 's'} with access entries in their groups (${groups.join(', ')})`,
      );
    }),
  );
}

// ---- e. the Role in each namespace ---------------------------------------------------------------------

/** In each release namespace, each function group may do everything its shipped Role grants. */
export async function checkRoles(ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  const c = CHECKS.role;
  if (!scope.catalog) return [noCatalog(c)];
  const { appName } = scope.catalog;
  const runbook = runbookOf(scope);
  const namespaces = new Map<string, ServiceConfig>();
  for (const [, svc] of scope.services) {
    const key = `${svc.cluster.region}/${svc.cluster.name}/${svc.namespace}`;
    if (!namespaces.has(key)) namespaces.set(key, svc);
  }
  const required = ports.requiredPermissions(appName);
  return Promise.all(
    [...namespaces.values()].map(async (svc) => {
      const subject = `${svc.cluster.name}/${svc.namespace}`;
      if (!runbook) return needsOutput(c, subject);
      const probe = await probeOf(ports, c, subject, svc);
      if (isResult(probe)) return probe;
      const groups = [...new Set(runbook.clusterAccess.flatMap((a) => a.kubernetesGroups))];
      const counted: string[] = [];
      for (const group of groups) {
        const needs = required.get(group);
        if (!needs) {
          return fail(
            c,
            subject,
            `group ${group} (from the stack's output) is bound by no RoleBinding of infra/k8s/tps-deploy-role.yaml for app ${appName}`,
            `redeploy the stack with this version (${deploy(scope)}), so its groups are the Roles' tps-deploy-${appName}-read|write`,
          );
        }
        for (const permission of needs) {
          let allowed: boolean;
          try {
            allowed = await probe.groupMay(group, svc.namespace, permission);
          } catch (error) {
            return fail(
              c,
              subject,
              `cannot ask the cluster (SubjectAccessReview): ${errorText(error)}`,
              'run doctor as an identity that may create subjectaccessreviews.authorization.k8s.io (a cluster admin)',
            );
          }
          if (!allowed) {
            return fail(
              c,
              subject,
              `group ${group} may not ${permissionText(permission)} in namespace ${svc.namespace}`,
              applyRoleCommand(appName, svc.namespace),
            );
          }
        }
        counted.push(`${group} (${needs.length} permissions)`);
      }
      return pass(c, subject, `${counted.join(', ')}: each allowed by SubjectAccessReview`);
    }),
  );
}

// ---- f. the Deployment and its Service ---------------------------------------------------------------------

/** The Service the router fronts the Deployment with. */
function stableServiceOf(svc: ServiceConfig): string {
  return svc.router.type === 'alb' ? svc.router.stableService : svc.router.service;
}

/** The Deployment, the containers the catalog names, and the router's Service exist. */
export async function checkWorkloads(ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  const c = CHECKS.workload;
  return perService(c, scope, async (name, svc) => {
    const probe = await probeOf(ports, c, name, svc);
    if (isResult(probe)) return probe;
    const ns = svc.namespace;
    let dep: Awaited<ReturnType<ClusterProbe['deployment']>>;
    let selector: Awaited<ReturnType<ClusterProbe['serviceSelector']>>;
    const service = stableServiceOf(svc);
    try {
      [dep, selector] = await Promise.all([
        probe.deployment(ns, svc.deployment),
        probe.serviceSelector(ns, service),
      ]);
    } catch (error) {
      return fail(c, name, `cannot read namespace ${ns}: ${errorText(error)}`, readFix(ns));
    }
    if (!dep) {
      return fail(
        c,
        name,
        `no Deployment ${ns}/${svc.deployment}`,
        `create it, or set services.${name}.deployment and namespace to the Deployment tps-deploy releases (kubectl -n ${ns} get deployments)`,
      );
    }
    const have = dep.containers.map((x) => x.name);
    const missing = svc.containers.filter((x) => !have.includes(x));
    if (missing.length > 0) {
      return fail(
        c,
        name,
        `Deployment ${ns}/${svc.deployment} has no container ${missing.join(', ')} (it has ${have.join(', ')})`,
        `set services.${name}.containers to containers the Deployment has (${have.join(', ')}) and redeploy`,
      );
    }
    if (!selector) {
      const port =
        svc.router.type === 'alb' && typeof svc.router.servicePort === 'number'
          ? String(svc.router.servicePort)
          : '<port>';
      return fail(
        c,
        name,
        `no Service ${ns}/${service} (services.${name}.router.${svc.router.type === 'alb' ? 'stableService' : 'service'})`,
        `kubectl -n ${ns} expose deployment ${svc.deployment} --name ${service} --port ${port}, or set the router's Service in the catalog to the one in front of the Deployment`,
      );
    }
    return pass(
      c,
      name,
      `Deployment ${ns}/${svc.deployment} (containers ${have.join(', ')}), Service ${ns}/${service}`,
    );
  });
}

// ---- g. the router's prerequisites ---------------------------------------------------------------------

const labelsText = (labels: Readonly<Record<string, string>>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '(none)';

/**
 * replica-ratio: the stable Service selects the Deployment's pods. alb: the Ingress exists, has the
 * rule of the forward action (service `<actionName>`, port `use-annotation`), and its class is
 * served by the AWS Load Balancer Controller.
 */
export async function checkRouters(ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  const c = CHECKS.router;
  return perService(c, scope, async (name, svc) => {
    const probe = await probeOf(ports, c, name, svc);
    if (isResult(probe)) return probe;
    const ns = svc.namespace;
    const router = svc.router;
    try {
      if (router.type === 'replica-ratio') {
        const [dep, selector] = await Promise.all([
          probe.deployment(ns, svc.deployment),
          probe.serviceSelector(ns, router.service),
        ]);
        if (!dep || !selector) return skip(c, name, 'needs the Deployment and its Service (see workload)');
        const patch = `kubectl -n ${ns} patch service ${router.service} --type merge -p '${JSON.stringify({ spec: { selector: dep.matchLabels } })}'`;
        if (Object.keys(selector).length === 0) {
          return fail(c, name, `Service ${ns}/${router.service} has no selector: it selects no pods`, patch);
        }
        const off = Object.entries(selector).filter(([k, v]) => dep.podLabels[k] !== v);
        if (off.length > 0) {
          return fail(
            c,
            name,
            `Service ${ns}/${router.service} selects ${labelsText(selector)}, but the pods of Deployment ${ns}/${svc.deployment} are labelled ${labelsText(dep.podLabels)}`,
            patch,
          );
        }
        return pass(
          c,
          name,
          `replica-ratio: Service ${ns}/${router.service} selects the Deployment's pods (${labelsText(selector)})`,
        );
      }
      const ingress = await probe.ingress(ns, router.ingress);
      if (!ingress) {
        return fail(
          c,
          name,
          `no Ingress ${ns}/${router.ingress} (services.${name}.router.ingress)`,
          `create Ingress ${router.ingress} in ${ns} with ingressClassName alb and a rule whose backend is service ${router.actionName}, port name use-annotation (docs/deploying.md), or correct services.${name}.router.ingress`,
        );
      }
      const ruled = ingress.backends.some(
        (b) => b.service === router.actionName && b.port === 'use-annotation',
      );
      if (!ruled) {
        return fail(
          c,
          name,
          `Ingress ${ns}/${router.ingress} has no rule whose backend is service ${router.actionName}, port name use-annotation (it routes to ${ingress.backends.map((b) => `${b.service}:${b.port ?? '?'}`).join(', ') || 'nothing'})`,
          `add to Ingress ${router.ingress} a rule whose backend is service "${router.actionName}", port name "use-annotation": the forward action tps-deploy weights (alb.ingress.kubernetes.io/actions.${router.actionName})`,
        );
      }
      const classes = await probe.ingressClasses();
      const albClasses = classes.filter((k) => k.controller === ALB_INGRESS_CONTROLLER).map((k) => k.name);
      const albClassFix = (className: string) =>
        `install the AWS Load Balancer Controller (its Helm chart creates IngressClass alb), or: kubectl apply -f - <<< '${JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: className }, spec: { controller: ALB_INGRESS_CONTROLLER } })}'`;
      let served: string;
      if (ingress.className) {
        const k = classes.find((x) => x.name === ingress.className);
        if (!k) {
          return fail(
            c,
            name,
            `Ingress ${ns}/${router.ingress} names IngressClass ${ingress.className}, which does not exist`,
            albClassFix(ingress.className),
          );
        }
        if (k.controller !== ALB_INGRESS_CONTROLLER) {
          return fail(
            c,
            name,
            `IngressClass ${k.name} of Ingress ${ns}/${router.ingress} is served by ${k.controller || '(no controller)'}, not the AWS Load Balancer Controller (${ALB_INGRESS_CONTROLLER})`,
            albClasses.length
              ? `kubectl -n ${ns} patch ingress ${router.ingress} --type merge -p '{"spec":{"ingressClassName":"${albClasses[0]}"}}'`
              : albClassFix('alb'),
          );
        }
        served = `class ${k.name}`;
      } else if (ingress.classAnnotation) {
        if (ingress.classAnnotation !== 'alb' || albClasses.length === 0) {
          return fail(
            c,
            name,
            `Ingress ${ns}/${router.ingress} has the annotation kubernetes.io/ingress.class: ${ingress.classAnnotation} and no ingressClassName${albClasses.length ? '' : '; no IngressClass is served by the AWS Load Balancer Controller'}`,
            albClasses.length
              ? `kubectl -n ${ns} patch ingress ${router.ingress} --type merge -p '{"spec":{"ingressClassName":"${albClasses[0]}"}}'`
              : albClassFix('alb'),
          );
        }
        served = 'annotation kubernetes.io/ingress.class: alb (deprecated; prefer ingressClassName)';
      } else {
        const dflt = classes.find((k) => k.isDefault);
        if (!dflt || dflt.controller !== ALB_INGRESS_CONTROLLER) {
          return fail(
            c,
            name,
            `Ingress ${ns}/${router.ingress} names no IngressClass and the default class is ${dflt ? `${dflt.name} (${dflt.controller})` : 'not set'}`,
            albClasses.length
              ? `kubectl -n ${ns} patch ingress ${router.ingress} --type merge -p '{"spec":{"ingressClassName":"${albClasses[0]}"}}'`
              : albClassFix('alb'),
          );
        }
        served = `default class ${dflt.name}`;
      }
      return pass(
        c,
        name,
        `alb: Ingress ${ns}/${router.ingress} (${served}, controller ${ALB_INGRESS_CONTROLLER}) routes to ${router.actionName} (use-annotation)`,
      );
    } catch (error) {
      return fail(c, name, `cannot read namespace ${ns}: ${errorText(error)}`, readFix(ns));
    }
  });
}

// ---- h. metrics of the running version ---------------------------------------------------------------------

/** Appended to the running version for the window's canary track, which the doctor does not read. */
const NO_CANARY_SUFFIX = '-tps-doctor-no-canary';

/** The running version served requests over the gate's lookback, as the metrics-present gate reads it. */
export async function checkMetrics(ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  const c = CHECKS.metrics;
  return perService(c, scope, async (name, svc) => {
    const m = svc.metrics;
    if (m.source !== 'cloudwatch') {
      return skip(c, name, `metrics.source '${m.source}' (a sandbox): nothing in CloudWatch to check`);
    }
    const probe = await probeOf(ports, c, name, svc);
    if (isResult(probe)) return probe;
    let dep: Awaited<ReturnType<ClusterProbe['deployment']>>;
    try {
      dep = await probe.deployment(svc.namespace, svc.deployment);
    } catch (error) {
      return fail(c, name, `cannot read the Deployment: ${errorText(error)}`, readFix(svc.namespace));
    }
    const image = dep?.containers.find((x) => x.name === svc.containers[0])?.image;
    if (!image) return skip(c, name, 'the running version is unknown (see workload)');
    const version = imageVersion(image);
    const lookback = svc.gates?.metricsLookbackSeconds ?? RUNBOOK.gates.metricsLookbackSeconds;
    const now = ports.clock.now();
    // The window reads two versions; there is no canary yet, so the second is one no pod carries,
    // and what it finds missing is no news (the gate reads the release's new version there).
    const window = await ports.metrics(svc).window({
      service: name,
      start: new Date(now.getTime() - lookback * 1000),
      end: now,
      canaryVersion: `${version}${NO_CANARY_SUFFIX}`,
      stableVersion: version,
    });
    const stableOnly = {
      ...window,
      measurementErrors: window.measurementErrors.filter((e) => !e.startsWith('canary ')),
    };
    const { gate } = judgeMetrics(stableOnly, lookback, version);
    if (gate.passed) return pass(c, name, `${m.namespace}/${m.requests}: ${gate.evidence}`);
    const dims = { ...m.dimensions, [m.versionDimension]: version };
    if (stableOnly.measurementErrors.some((e) => e.startsWith('GetMetricData failed'))) {
      return fail(
        c,
        name,
        `${m.namespace}/${m.requests}{${labelsText(dims)}}: ${gate.evidence}`,
        'check that you may call cloudwatch:GetMetricData (the functions read the metrics with it too)',
      );
    }
    return fail(
      c,
      name,
      `${m.namespace}/${m.requests}{${labelsText(dims)}}: ${gate.evidence}`,
      `publish ${m.requests}, ${m.errors} and ${m.latency} to namespace ${m.namespace} with dimensions ${labelsText(dims)} from the running pods (docs/onboarding.md, "Tagging metrics with the version"); without them the "metrics present" gate refuses every release`,
    );
  });
}

// ---- i. alarms ---------------------------------------------------------------------

/** The alarms the stack creates for the service exist and none is in ALARM. */
export async function checkAlarms(ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  const c = CHECKS.alarms;
  return perService(c, scope, async (name, svc) => {
    const names = serviceAlarmNames(scope.catalog!.appName, name, svc);
    let readings: Awaited<ReturnType<DoctorPorts['alarms']['read']>>;
    try {
      readings = await ports.alarms.read(names);
    } catch (error) {
      return fail(
        c,
        name,
        `CloudWatch DescribeAlarms failed: ${describeAwsError(error)}`,
        `check that you may call cloudwatch:DescribeAlarms: aws cloudwatch describe-alarms --alarm-names ${names.join(' ')}${scope.region ? ` --region ${scope.region}` : ''}`,
      );
    }
    const { gate } = judgeMonitoring(readings);
    if (gate.passed) return pass(c, name, gate.evidence);
    const fixes: string[] = [];
    if (readings.some((r) => r.state === 'MISSING')) {
      fixes.push(`deploy the stack that creates them: ${deploy(scope)}`);
    }
    const alarming = readings.filter((r) => r.state === 'ALARM').map((r) => r.name);
    if (alarming.length > 0) {
      fixes.push(
        `the gates refuse a release while one is in ALARM: see why with aws cloudwatch describe-alarms --alarm-names ${alarming.join(' ')}${scope.region ? ` --region ${scope.region}` : ''}, and fix what it reports`,
      );
    }
    return fail(c, name, gate.evidence, fixes.join('; '));
  });
}

// ---- j. on call ---------------------------------------------------------------------

const hhmm = (d: Date) => d.toISOString().slice(11, 16);

/** The service has an on-call source, and someone is on call now. */
export async function checkOnCall(ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  const c = CHECKS.onCall;
  return perService(c, scope, async (name, svc) => {
    const oc = svc.onCall;
    const redeploy = ` and redeploy (${deploy(scope)})`;
    if (!oc) {
      return fail(
        c,
        name,
        `no on-call source (services.${name}.onCall): the on-call gate refuses every release`,
        `add services.${name}.onCall to the catalog: a weekly schedule { schedule: [{ who, days, start, end }] } or { url }${redeploy}`,
      );
    }
    const now = ports.clock.now();
    if ('schedule' in oc) {
      const who = onCallAt(oc.schedule, now);
      const when = `${WEEKDAYS[now.getUTCDay()]} ${hhmm(now)} UTC`;
      if (who.length === 0) {
        return fail(
          c,
          name,
          `nobody is on call now (${when}) in the weekly schedule of services.${name}.onCall`,
          `add a shift covering ${when} to services.${name}.onCall.schedule${redeploy}`,
        );
      }
      return pass(c, name, `on call now (${when}, weekly schedule): ${who.join(', ')}`);
    }
    try {
      const answer = await ports.onCall.whoIsOnCall({
        url: oc.url,
        timeoutSeconds: oc.timeoutSeconds ?? RUNBOOK.gates.onCallTimeoutSeconds,
      });
      if (answer.onCall.length === 0) {
        return fail(
          c,
          name,
          `nobody is on call now (${answer.source})`,
          `put someone on call in the paging tool behind ${oc.url}`,
        );
      }
      return pass(c, name, `on call now: ${answer.onCall.join(', ')} (${answer.source})`);
    } catch (error) {
      return fail(
        c,
        name,
        errorText(error),
        `make ${oc.url} answer GET with 200 and JSON {"onCall": ["name", ...]} (check: curl -s ${oc.url})`,
      );
    }
  });
}

/** Every check, in the order printed. */
export const ALL_CHECKS: readonly ((ports: DoctorPorts, scope: DoctorScope) => Promise<CheckResult[]>)[] = [
  checkCredentials,
  checkStack,
  checkEndpoints,
  checkAccessEntries,
  checkRoles,
  checkWorkloads,
  checkRouters,
  checkMetrics,
  checkAlarms,
  checkOnCall,
];

/** Runs every check (concurrently) and returns their results in order. */
export async function runChecks(ports: DoctorPorts, scope: DoctorScope): Promise<CheckResult[]> {
  return (await Promise.all(ALL_CHECKS.map((check) => check(ports, scope)))).flat();
}
