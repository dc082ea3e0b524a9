/**
 * Kubernetes Jobs for the runbook's test hooks and database migrations: created once (a retry
 * finds the first one), never retried by Kubernetes (`backoffLimit: 0`, `restartPolicy: Never`:
 * a failed test or migration is a result, not something to try again behind the pipeline's back),
 * bounded by `activeDeadlineSeconds`, kept a day for diagnosis (`ttlSecondsAfterFinished`).
 *
 * Invariant: every Job meets the restricted Pod Security profile whatever the request says
 * (non-root, no privilege escalation, read-only root file system, every capability dropped,
 * seccomp RuntimeDefault, only an emptyDir volume), runs as the catalog's ServiceAccount with no
 * API token unless the catalog mounts one, and has its resources set. A namespace labelled
 * `pod-security.kubernetes.io/enforce: restricted` admits its pods.
 */
import type {
  V1Container,
  V1EnvVar,
  V1Job,
  V1JobCondition,
  V1PodSecurityContext,
} from '@kubernetes/client-node';
import { RUNBOOK } from '../../domain/defaults.js';
import type { JobEnvValue } from '../../domain/job-env.js';
import type { JobRequest, JobRunner, JobStatus } from '../../ports/jobs.js';
import { isAlreadyExists, isNotFound, type KubeClients } from './client.js';
import { K8S_LABELS } from './labels.js';

/** How long a finished Job (and its pod) stays for people to read. */
export const JOB_TTL_SECONDS = 86_400;

/** Where a Job's logs are, for the record. */
export function jobLogsHint(namespace: string, name: string): string {
  return `kubectl -n ${namespace} logs job/${name}`;
}

/** Labels of a release Job: managed-by, the service and the kind, so people can find its Jobs. */
export function jobLabels(job: Pick<JobRequest, 'kind' | 'service'>): Record<string, string> {
  return {
    [K8S_LABELS.managedBy]: K8S_LABELS.managedByValue,
    [K8S_LABELS.service]: job.service,
    [K8S_LABELS.jobKind]: job.kind,
  };
}

/**
 * Labels of a release Job's pods: managed-by and the kind, but NOT the release selector labels
 * (deployment id, service), which make the routers count a pod as a leftover of the release.
 */
export function jobPodLabels(job: Pick<JobRequest, 'kind'>): Record<string, string> {
  return {
    [K8S_LABELS.managedBy]: K8S_LABELS.managedByValue,
    ...(job.kind ? { [K8S_LABELS.jobKind]: job.kind } : {}),
  };
}

/**
 * A container's variable: a plaintext `value`, or `valueFrom.secretKeyRef` for a Secret's key,
 * which the kubelet reads when it starts the pod (tps-deploy never sees the value).
 */
export function envVar(name: string, value: JobEnvValue): V1EnvVar {
  if (typeof value === 'string') return { name, value };
  return {
    name,
    valueFrom: { secretKeyRef: { name: value.secretKeyRef.name, key: value.secretKeyRef.key } },
  };
}

/** The container security context of every Job (the restricted profile's container part). */
export const JOB_CONTAINER_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  privileged: false,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
} as const satisfies V1Container['securityContext'];

/** The pod security context of a Job: non-root and seccomp RuntimeDefault, the catalog's user. */
export function jobPodSecurityContext(job: Pick<JobRequest, 'pod'>): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
    ...(job.pod.runAsUser !== undefined ? { runAsUser: job.pod.runAsUser } : {}),
    ...(job.pod.runAsGroup !== undefined ? { runAsGroup: job.pod.runAsGroup } : {}),
  };
}

/** The writable scratch directory of a Job (its root file system is read-only). */
const TMP_VOLUME = 'tmp';

/** The Job object of a request: labelled by {@link jobLabels}, its pods by `podLabels`. */
export function jobManifest(job: JobRequest, podLabels: Readonly<Record<string, string>>): V1Job {
  const { pod } = job;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: job.name, namespace: job.namespace, labels: jobLabels(job) },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: job.timeoutSeconds,
      ttlSecondsAfterFinished: JOB_TTL_SECONDS,
      template: {
        metadata: { labels: { ...podLabels } },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: pod.serviceAccountName,
          automountServiceAccountToken: pod.automountServiceAccountToken,
          securityContext: jobPodSecurityContext(job),
          containers: [
            {
              name: 'job',
              image: job.image,
              ...(job.command ? { command: [...job.command] } : {}),
              env: Object.entries(job.env).map(([name, value]) => envVar(name, value)),
              resources: {
                requests: { ...pod.resources.requests },
                limits: { ...pod.resources.limits },
              },
              securityContext: structuredClone(
                JOB_CONTAINER_SECURITY_CONTEXT,
              ) as V1Container['securityContext'],
              volumeMounts: [{ name: TMP_VOLUME, mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: TMP_VOLUME, emptyDir: { sizeLimit: RUNBOOK.jobs.tmpSizeLimit } }],
        },
      },
    },
  };
}

function trueCondition(job: V1Job, type: string): V1JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

function iso(d: Date | string | undefined | null): string | null {
  if (!d) return null;
  const t = d instanceof Date ? d : new Date(d);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}

/** The status of a Job as the port reports it (pure; exported for tests). */
export function jobStatusOf(job: V1Job): JobStatus {
  const name = job.metadata?.name ?? '';
  const namespace = job.metadata?.namespace ?? '';
  const s = job.status ?? {};
  const counts = `active ${s.active ?? 0}, succeeded ${s.succeeded ?? 0}, failed ${s.failed ?? 0}`;
  const complete = trueCondition(job, 'Complete');
  const failed = trueCondition(job, 'Failed');
  const base = { name, startedAt: iso(s.startTime), logs: jobLogsHint(namespace, name) };
  if (complete) {
    return {
      ...base,
      state: 'succeeded',
      completedAt: iso(s.completionTime ?? complete.lastTransitionTime),
      detail: `completed (${counts})`,
    };
  }
  if (failed) {
    const why = [failed.reason, failed.message].filter(Boolean).join(': ');
    return {
      ...base,
      state: 'failed',
      completedAt: iso(failed.lastTransitionTime),
      detail: `failed${why ? ` (${why})` : ''}; ${counts}`,
    };
  }
  return { ...base, state: 'running', completedAt: null, detail: `running (${counts})` };
}

/** {@link JobRunner} on the batch/v1 API. */
export class KubernetesJobRunner implements JobRunner {
  /**
   * @param podLabelsOf the labels of the Job's pods. They must not carry the release selector
   *   labels: the routers treat every pod with those as a leftover of the release.
   */
  constructor(
    private readonly clients: KubeClients,
    private readonly podLabelsOf: (job: JobRequest) => Record<string, string> = jobPodLabels,
  ) {}

  async start(job: JobRequest): Promise<JobStatus> {
    const { batch, call } = this.clients;
    const body = jobManifest(job, this.podLabelsOf(job));
    const created = await call.run(`create job ${job.namespace}/${job.name}`, async () => {
      try {
        return await batch.createNamespacedJob({ namespace: job.namespace, body });
      } catch (e) {
        // A retry of our own create: the first one is the Job.
        if (isAlreadyExists(e)) return batch.readNamespacedJob({ name: job.name, namespace: job.namespace });
        throw e;
      }
    });
    return jobStatusOf({ ...created, metadata: { ...created.metadata, namespace: job.namespace } });
  }

  async status(namespace: string, name: string): Promise<JobStatus> {
    try {
      const job = await this.clients.call.run(`read job ${namespace}/${name}`, () =>
        this.clients.batch.readNamespacedJob({ name, namespace }),
      );
      return jobStatusOf({ ...job, metadata: { ...job.metadata, namespace } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return {
        name,
        state: 'missing',
        startedAt: null,
        completedAt: null,
        detail: `job ${namespace}/${name} does not exist (deleted, or its TTL passed)`,
        logs: jobLogsHint(namespace, name),
      };
    }
  }
}
