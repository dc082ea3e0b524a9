/**
 * What `tps-deploy doctor` asks the real environment, as narrow ports: the AWS identity, the
 * deployed runbook, EKS, each cluster's objects and RBAC, the alarms, the metrics and the on-call
 * source. The checks (checks.ts) are small functions over these, so each can be broken alone in
 * tests; the adapters (aws.ts, kube.ts, and the functions' own alarm, metrics and on-call
 * adapters) are the real ones.
 */
import type { RunbookOutput } from '../../functions/contract/runbook-output.js';
import type { Catalog, ServiceConfig } from '../../functions/domain/config.js';
import type { AlarmStates } from '../../functions/ports/alarms.js';
import type { Clock } from '../../functions/ports/clock.js';
import type { MetricsSource } from '../../functions/ports/metrics.js';
import type { OnCallDirectory } from '../../functions/ports/on-call.js';
import type { RunbookProblem } from '../runbook-source.js';

/** The doctor's checks, in the order they are printed; the ids are what `--json` prints. */
export const CHECKS = {
  credentials: 'credentials',
  stack: 'stack',
  endpoint: 'endpoint',
  accessEntries: 'access-entries',
  role: 'kubernetes-role',
  workload: 'workload',
  router: 'router',
  metrics: 'metrics',
  alarms: 'alarms',
  onCall: 'on-call',
} as const;

export type CheckId = (typeof CHECKS)[keyof typeof CHECKS];

export type CheckStatus = 'PASS' | 'FAIL' | 'SKIP';

/** One line of the doctor's report. */
export interface CheckResult {
  readonly check: CheckId;
  /** What was checked: a cluster, a namespace or a service; null for the account-wide checks. */
  readonly subject: string | null;
  readonly status: CheckStatus;
  readonly detail: string;
  /** On FAIL: what to do, as an exact command or setting. */
  readonly fix: string | null;
}

/** Who the AWS credentials are (STS GetCallerIdentity). */
export interface CallerIdentity {
  readonly account: string;
  readonly arn: string;
}

/** The parts of EKS DescribeCluster the checks read. */
export interface ClusterFacts {
  /** ACTIVE, CREATING, UPDATING, DELETING, FAILED, PENDING. */
  readonly status: string;
  readonly endpointPublicAccess: boolean;
  readonly endpointPrivateAccess: boolean;
  /** The CIDRs allowed to reach the public endpoint (EKS answers 0.0.0.0/0 when unrestricted). */
  readonly publicAccessCidrs: readonly string[];
  /** API, API_AND_CONFIG_MAP or CONFIG_MAP; null when EKS does not say. */
  readonly authenticationMode: string | null;
  readonly vpcId: string | null;
}

/** EKS, for the endpoint and access-entry checks. */
export interface EksPort {
  describeCluster(name: string, region: string): Promise<ClusterFacts>;
  /** The Kubernetes groups of the principal's access entry, or null when it has none. */
  accessEntryGroups(cluster: string, region: string, principalArn: string): Promise<readonly string[] | null>;
}

/** One permission a function needs: `verb` on `resource` of API group `apiGroup` ("" is core). */
export interface Permission {
  readonly apiGroup: string;
  readonly resource: string;
  readonly verb: string;
}

/** A Deployment as the workload and router checks need it. */
export interface DeploymentFacts {
  readonly containers: readonly { readonly name: string; readonly image: string }[];
  readonly podLabels: Readonly<Record<string, string>>;
  readonly matchLabels: Readonly<Record<string, string>>;
}

/** An Ingress as the ALB router's check needs it. */
export interface IngressFacts {
  /** `spec.ingressClassName`, or null. */
  readonly className: string | null;
  /** The deprecated annotation `kubernetes.io/ingress.class`, or null. */
  readonly classAnnotation: string | null;
  /** Every backend Service of its rules, with the port's name or number. */
  readonly backends: readonly { readonly service: string; readonly port: string | number | null }[];
}

export interface IngressClassFacts {
  readonly name: string;
  readonly controller: string;
  readonly isDefault: boolean;
}

/** One cluster, read as the person running the doctor. */
export interface ClusterProbe {
  deployment(namespace: string, name: string): Promise<DeploymentFacts | null>;
  /** The Service's selector ({} when it has none), or null when there is no such Service. */
  serviceSelector(namespace: string, name: string): Promise<Readonly<Record<string, string>> | null>;
  ingress(namespace: string, name: string): Promise<IngressFacts | null>;
  ingressClasses(): Promise<readonly IngressClassFacts[]>;
  /** Whether RBAC lets `group` do `permission` in `namespace` (SubjectAccessReview). */
  groupMay(group: string, namespace: string, permission: Permission): Promise<boolean>;
}

/** Where the catalog and the runbook came from, as the checks see them. */
export interface DoctorScope {
  /** The stack named, or null without `--stack`. */
  readonly stackName: string | null;
  /** The stack's output, or the reason it could not be read (null without `--stack`). */
  readonly runbook:
    | { readonly ok: true; readonly value: RunbookOutput }
    | { readonly ok: false; readonly error: string; readonly problem: RunbookProblem | 'aws' }
    | null;
  /** The catalog, or null when none could be had (the stack's is unreadable and no --config). */
  readonly catalog: Catalog | null;
  /** The services to check (`--service`, else every one of the catalog). */
  readonly services: readonly (readonly [string, ServiceConfig])[];
  /** The region the CLI's AWS clients use, or null when none is configured. */
  readonly region: string | null;
}

/** Everything the checks ask. */
export interface DoctorPorts {
  whoAmI(): Promise<CallerIdentity>;
  readonly eks: EksPort;
  /** The cluster of a service (EKS, or `--kubeconfig`). */
  cluster(svc: ServiceConfig): Promise<ClusterProbe>;
  /** What each function group needs in a release namespace (the shipped Role of its access). */
  requiredPermissions(appName: string): ReadonlyMap<string, readonly Permission[]>;
  readonly alarms: AlarmStates;
  metrics(svc: ServiceConfig): MetricsSource;
  readonly onCall: OnCallDirectory;
  readonly clock: Clock;
}
