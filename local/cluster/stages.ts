/**
 * KWOK Stage definitions for the local control plane. KWOK v0.8 standalone ships no default
 * stages, so these are the whole behaviour of the fake nodes and kubelets:
 *
 * Nodes: `node-initialize` and `node-heartbeat-with-lease` (copied from KWOK v0.8.0's
 * kustomize/stage/node, Apache-2.0) make annotated Nodes Ready and keep them so.
 *
 * Pods (selection by jq over the pod; the failure mode is chosen by the container image's tag):
 *   pod-create        scheduled pod -> Pending, containers ContainerCreating, pod IP assigned
 *   pod-ready         after the ready delay -> Running, every container running and ready;
 *                     a container whose image ends `-unready` runs but stays ready=false forever
 *   pod-crashloop-start / pod-crashloop
 *                     restartPolicy Always and image `...-crash` (exit 1, reason Error), `...-oom`
 *                     (exit 137, reason OOMKilled) or `...-fail`: Running, not Ready, waiting
 *                     CrashLoopBackOff; restartCount grows by one every restart interval
 *   pod-complete      pods owned by a Job -> Succeeded (exit 0) after the run duration
 *   pod-fail          restartPolicy Never/OnFailure and image `...-fail`/`-crash`/`-oom`
 *                     -> Failed (exit 1 Error, or 137 OOMKilled) after the run duration
 *   pod-delete        pods with a deletionTimestamp are removed
 *
 * Each delay can be overridden per pod with an annotation holding a Go duration ("5s", "250ms"):
 * `local.tps-deploy.dev/ready-delay`, `local.tps-deploy.dev/run-duration`,
 * `local.tps-deploy.dev/restart-interval`.
 */
import { dumpYaml } from '@kubernetes/client-node';

export interface StageTimings {
  /** Pending -> Running/Ready (also the time until a crash-looping pod first fails). */
  readyDelayMs: number;
  /** Running -> Succeeded/Failed for Job pods and restartPolicy Never/OnFailure pods. */
  runDurationMs: number;
  /** Interval between restarts of a crash-looping container. */
  restartIntervalMs: number;
}

export const ANNOTATION_PREFIX = 'local.tps-deploy.dev';

function envMs(env: NodeJS.ProcessEnv, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`${key} must be a non-negative number of milliseconds, got ${raw}`);
  return Math.round(n);
}

/** Timings from TPS_POD_READY_DELAY_MS, TPS_POD_RUN_DURATION_MS, TPS_CRASH_RESTART_INTERVAL_MS. */
export function timingsFromEnv(env: NodeJS.ProcessEnv = process.env): StageTimings {
  return {
    readyDelayMs: envMs(env, 'TPS_POD_READY_DELAY_MS', 1000),
    runDurationMs: envMs(env, 'TPS_POD_RUN_DURATION_MS', 1000),
    restartIntervalMs: envMs(env, 'TPS_CRASH_RESTART_INTERVAL_MS', 1500),
  };
}

// ---- jq building blocks ----------------------------------------------------------------------
const anyImage = (suffix: string) => `any(.spec.containers[].image; endswith("${suffix}"))`;
const restartAlways = '((.spec.restartPolicy // "Always") == "Always")';
const failingImage = `(${anyImage('-crash')} or ${anyImage('-oom')} or ${anyImage('-fail')})`;
/** restartPolicy Always and a container that keeps exiting: CrashLoopBackOff. */
export const JQ_CRASHLOOP = `(${restartAlways} and ${failingImage})`;
/** A container that runs but never passes readiness. */
export const JQ_UNREADY = `((${JQ_CRASHLOOP} | not) and ${anyImage('-unready')})`;
/** restartPolicy Never/OnFailure and a container that exits non-zero: the pod fails. */
export const JQ_RUN_TO_FAILURE = `((${restartAlways} | not) and ${failingImage})`;
export const JQ_OWNED_BY_JOB = 'any((.metadata.ownerReferences // [])[]; .kind == "Job")';

interface Expr {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}
const isTrue = (key: string): Expr => ({ key, operator: 'In', values: ['true'] });
const isFalse = (key: string): Expr => ({ key, operator: 'NotIn', values: ['true'] });
const notDeleting: Expr = { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' };
const phase = (p: string): Expr => ({ key: '.status.phase', operator: 'In', values: [p] });
const podIpAssigned: Expr = { key: '.status.podIP', operator: 'Exists' };
const noRunningContainer: Expr = {
  key: '.status.containerStatuses[]?.state.running',
  operator: 'DoesNotExist',
};
const crashLooping = isTrue('any(.status.containerStatuses[]?; .state.waiting.reason == "CrashLoopBackOff")');

function delay(ms: number, annotation: string) {
  return {
    durationMilliseconds: ms,
    durationFrom: { jq: { expression: `.metadata.annotations["${ANNOTATION_PREFIX}/${annotation}"]` } },
  };
}

interface StageDoc {
  apiVersion: 'kwok.x-k8s.io/v1alpha1';
  kind: 'Stage';
  metadata: { name: string };
  spec: Record<string, unknown>;
}

function stage(
  name: string,
  kind: 'Pod' | 'Node',
  matchExpressions: Expr[],
  next: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): StageDoc {
  return {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Stage',
    metadata: { name },
    spec: {
      resourceRef: { apiGroup: 'v1', kind },
      selector: { matchExpressions: matchExpressions.map((e) => ({ jq: e })) },
      ...extra,
      next,
    },
  };
}

// ---- Go templates (rendered by KWOK with sprig functions) -------------------------------------
const HOST_AND_POD_IP = `
{{ with NodeIPWith .spec.nodeName }}
hostIP: {{ . | Quote }}
hostIPs:
- ip: {{ . | Quote }}
{{ end }}
{{ $podIP := PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
podIP: {{ $podIP | Quote }}
podIPs:
- ip: {{ $podIP | Quote }}`;

const POD_CREATE = `{{ $now := Now }}
conditions:
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: PodReadyToStartContainers
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  message: 'containers with unready status: [{{ range $i, $c := .spec.containers }}{{ if $i }} {{ end }}{{ $c.name }}{{ end }}]'
  reason: ContainersNotReady
  status: "False"
  type: Ready
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  message: 'containers with unready status: [{{ range $i, $c := .spec.containers }}{{ if $i }} {{ end }}{{ $c.name }}{{ end }}]'
  reason: ContainersNotReady
  status: "False"
  type: ContainersReady
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    waiting:
      reason: ContainerCreating
{{ end }}
{{ if .spec.initContainers }}
initContainerStatuses:
{{ range .spec.initContainers }}
- image: {{ .image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
{{ end }}
{{ end }}
${HOST_AND_POD_IP}
phase: Pending
startTime: {{ $now | Quote }}
`;

/** Running; every container running; ready unless its image ends with `-unready`. */
const POD_RUNNING = `{{ $now := Now }}
{{ $unready := list }}
{{ range .spec.containers }}{{ if hasSuffix "-unready" .image }}{{ $unready = append $unready .name }}{{ end }}{{ end }}
{{ $ready := not $unready }}
conditions:
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  {{ if $ready }}
  status: "True"
  {{ else }}
  message: 'containers with unready status: [{{ join " " $unready }}]'
  reason: ContainersNotReady
  status: "False"
  {{ end }}
  type: Ready
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  {{ if $ready }}
  status: "True"
  {{ else }}
  message: 'containers with unready status: [{{ join " " $unready }}]'
  reason: ContainersNotReady
  status: "False"
  {{ end }}
  type: ContainersReady
{{ range .spec.readinessGates }}
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: {{ .conditionType | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  ready: {{ not (hasSuffix "-unready" .image) }}
  restartCount: 0
  started: true
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
phase: Running
`;

/** Shared by the first failure and every later restart of a crash-looping container. */
function crashLoopTemplate(first: boolean): string {
  const restartCount = first
    ? '1'
    : '{{ if $origin }}{{ add1 (or $origin.restartCount 0) }}{{ else }}1{{ end }}';
  return `{{ $now := Now }}
{{ $root := . }}
{{ $failing := list }}
{{ range .spec.containers }}{{ if or (hasSuffix "-crash" .image) (hasSuffix "-oom" .image) (hasSuffix "-fail" .image) }}{{ $failing = append $failing .name }}{{ end }}{{ end }}
conditions:
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  message: 'containers with unready status: [{{ join " " $failing }}]'
  reason: ContainersNotReady
  status: "False"
  type: Ready
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  message: 'containers with unready status: [{{ join " " $failing }}]'
  reason: ContainersNotReady
  status: "False"
  type: ContainersReady
containerStatuses:
{{ range $index, $item := .spec.containers }}
{{ $origin := dict }}
{{ range $root.status.containerStatuses }}{{ if eq .name $item.name }}{{ $origin = . }}{{ end }}{{ end }}
{{ $oom := hasSuffix "-oom" $item.image }}
{{ if or (hasSuffix "-crash" $item.image) $oom (hasSuffix "-fail" $item.image) }}
- image: {{ $item.image | Quote }}
  imageID: ""
  name: {{ $item.name | Quote }}
  ready: false
  restartCount: ${restartCount}
  started: false
  lastState:
    terminated:
      {{ if $oom }}
      exitCode: 137
      reason: OOMKilled
      {{ else }}
      exitCode: 1
      reason: Error
      {{ end }}
      startedAt: {{ $now | Quote }}
      finishedAt: {{ $now | Quote }}
  state:
    waiting:
      reason: CrashLoopBackOff
      message: 'back-off restarting failed container {{ $item.name }} in pod {{ $root.metadata.name }}_{{ $root.metadata.namespace }}({{ $root.metadata.uid }})'
{{ else }}
- image: {{ $item.image | Quote }}
  imageID: ""
  name: {{ $item.name | Quote }}
  ready: {{ not (hasSuffix "-unready" $item.image) }}
  restartCount: {{ or $origin.restartCount 0 }}
  started: true
  state:
    running:
      startedAt: {{ (or (and $origin.state $origin.state.running $origin.state.running.startedAt) $now) | Quote }}
{{ end }}
{{ end }}
phase: Running
`;
}

/** Terminal state of a Job pod or a restartPolicy Never/OnFailure pod. */
function terminatedTemplate(succeeded: boolean): string {
  return `{{ $now := Now }}
{{ $root := . }}
conditions:
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  reason: PodCompleted
  status: "False"
  type: Ready
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  reason: PodCompleted
  status: "False"
  type: ContainersReady
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: "False"
  type: PodReadyToStartContainers
containerStatuses:
{{ range $index, $item := .spec.containers }}
{{ $origin := dict }}
{{ range $root.status.containerStatuses }}{{ if eq .name $item.name }}{{ $origin = . }}{{ end }}{{ end }}
- image: {{ $item.image | Quote }}
  imageID: ""
  name: {{ $item.name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
      {{ if hasSuffix "-oom" $item.image }}
      exitCode: 137
      reason: OOMKilled
      {{ else if or (hasSuffix "-crash" $item.image) (hasSuffix "-fail" $item.image) }}
      exitCode: 1
      reason: Error
      {{ else }}
      exitCode: 0
      reason: Completed
      {{ end }}
      startedAt: {{ (or (and $origin.state $origin.state.running $origin.state.running.startedAt) $now) | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
phase: ${succeeded ? 'Succeeded' : 'Failed'}
`;
}

// ---- node templates: KWOK v0.8.0 kustomize/stage/node (fast + heartbeat-with-lease) -----------
const NODE_INITIALIZE = `{{ $now := Now }}
{{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $lastTransitionTime | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type  | Quote}}
{{ end }}

{{ $hasInternalIP := false }}
{{ $hasHostname := false }}
{{ range .status.addresses }}
  {{ if eq .type "InternalIP" }}
    {{ $hasInternalIP = true }}
  {{ end }}
  {{ if eq .type "Hostname" }}
    {{ $hasHostname = true }}
  {{ end }}
{{ end }}
{{ if or (not $hasInternalIP) (not $hasHostname) }}
addresses:
{{ end }}
{{ if not $hasInternalIP }}
{{ with NodeIP }}
- address: {{ . | Quote }}
  type: InternalIP
{{ end }}
{{ end }}
{{ if not $hasHostname }}
{{ with NodeName }}
- address: {{ . | Quote }}
  type: Hostname
{{ end }}
{{ end }}

{{ with NodePort }}
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ . }}
{{ end }}

allocatable:
{{ with .status.allocatable }}
{{ YAML . 1 }}
{{ else }}
  cpu: 1k
  memory: 1Ti
  pods: 1M
{{ end }}
capacity:
{{ with .status.capacity }}
{{ YAML . 1 }}
{{ else }}
  cpu: 1k
  memory: 1Ti
  pods: 1M
{{ end }}

{{ $nodeInfo := .status.nodeInfo }}
{{ $kwokVersion := printf "kwok-%s" Version }}
nodeInfo:
  architecture: {{ or $nodeInfo.architecture "amd64" }}
  bootID: {{ or $nodeInfo.bootID \`""\` }}
  containerRuntimeVersion: {{ or $nodeInfo.containerRuntimeVersion $kwokVersion }}
  kernelVersion: {{ or $nodeInfo.kernelVersion $kwokVersion }}
  kubeProxyVersion: {{ or $nodeInfo.kubeProxyVersion $kwokVersion }}
  kubeletVersion: {{ or $nodeInfo.kubeletVersion $kwokVersion }}
  machineID: {{ or $nodeInfo.machineID \`""\` }}
  operatingSystem: {{ or $nodeInfo.operatingSystem "linux" }}
  osImage: {{ or $nodeInfo.osImage \`""\` }}
  systemUUID: {{ or $nodeInfo.systemUUID \`""\` }}
phase: Running
`;

const NODE_HEARTBEAT = `{{ $now := Now }}
{{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $lastTransitionTime | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type | Quote }}
{{ end }}

addresses:
{{ with .status.addresses }}
{{ YAML . 1 }}
{{ else }}
{{ with NodeIP }}
- address: {{ . | Quote }}
  type: InternalIP
{{ end }}
{{ with NodeName }}
- address: {{ . | Quote }}
  type: Hostname
{{ end }}
{{ end }}

{{ with NodePort }}
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ . }}
{{ end }}
`;

const nodeReady = '.status.conditions[]? | select( .type == "Ready" ) | .status';

/** Every Stage document, in the order KWOK receives them. */
export function buildStages(t: StageTimings): StageDoc[] {
  return [
    stage('node-initialize', 'Node', [{ key: nodeReady, operator: 'NotIn', values: ['True'] }], {
      statusTemplate: NODE_INITIALIZE,
    }),
    stage(
      'node-heartbeat-with-lease',
      'Node',
      [
        { key: '.status.phase', operator: 'In', values: ['Running'] },
        { key: nodeReady, operator: 'In', values: ['True'] },
      ],
      { statusTemplate: NODE_HEARTBEAT },
      { delay: { durationMilliseconds: 600000, jitterDurationMilliseconds: 610000 } },
    ),
    stage(
      'pod-create',
      'Pod',
      [notDeleting, phase('Pending'), { key: '.status.podIP', operator: 'DoesNotExist' }],
      {
        event: {
          type: 'Normal',
          reason: 'Pulled',
          message: 'Container image already present on machine (kwok)',
        },
        statusTemplate: POD_CREATE,
      },
    ),
    stage(
      'pod-ready',
      'Pod',
      [notDeleting, phase('Pending'), podIpAssigned, noRunningContainer, isFalse(JQ_CRASHLOOP)],
      {
        event: { type: 'Normal', reason: 'Started', message: 'Started container (kwok)' },
        statusTemplate: POD_RUNNING,
      },
      { delay: delay(t.readyDelayMs, 'ready-delay') },
    ),
    stage(
      'pod-crashloop-start',
      'Pod',
      [notDeleting, phase('Pending'), podIpAssigned, noRunningContainer, isTrue(JQ_CRASHLOOP)],
      {
        event: { type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container (kwok)' },
        statusTemplate: crashLoopTemplate(true),
      },
      { delay: delay(t.readyDelayMs, 'ready-delay') },
    ),
    stage(
      'pod-crashloop',
      'Pod',
      [notDeleting, phase('Running'), isTrue(JQ_CRASHLOOP), crashLooping],
      {
        event: { type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container (kwok)' },
        statusTemplate: crashLoopTemplate(false),
      },
      { delay: delay(t.restartIntervalMs, 'restart-interval') },
    ),
    stage(
      'pod-complete',
      'Pod',
      [
        notDeleting,
        phase('Running'),
        isTrue(JQ_OWNED_BY_JOB),
        isFalse(JQ_RUN_TO_FAILURE),
        isFalse(JQ_UNREADY),
      ],
      { statusTemplate: terminatedTemplate(true) },
      { delay: delay(t.runDurationMs, 'run-duration') },
    ),
    stage(
      'pod-fail',
      'Pod',
      [notDeleting, phase('Running'), isTrue(JQ_RUN_TO_FAILURE)],
      { statusTemplate: terminatedTemplate(false) },
      { delay: delay(t.runDurationMs, 'run-duration') },
    ),
    stage('pod-delete', 'Pod', [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }], {
      delete: true,
    }),
  ];
}

/** The `--config` file for kwok: every Stage as one multi-document YAML. */
export function stagesYaml(t: StageTimings = timingsFromEnv()): string {
  return buildStages(t)
    .map((doc) => dumpYaml(doc, { lineWidth: -1, noRefs: true }))
    .join('---\n');
}
