/**
 * `tps-deploy local`: one release through the synthesized state machine, in-process
 * (LocalEnvironment: aws-local-stepfunctions, the real step code, dynalite, synthetic traffic)
 * against a Kubernetes cluster: the embedded local control plane by default, or `--kubeconfig`.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, KubeConfig } from '@kubernetes/client-node';
import { discardLines } from '../../functions/adapters/powertools/output.js';
import { loadProfile, PROFILE_NAMES, PROFILE_SLO_P99_MS } from '../../functions/adapters/synthetic/index.js';
import type { TrafficProfile } from '../../functions/adapters/synthetic/profile.js';
import { type CatalogInput, parseCatalog } from '../../functions/domain/config.js';
import { ConfigError, InvalidInputError } from '../../functions/domain/errors.js';
import { imageVersion, parseExecutionInput } from '../../functions/domain/input.js';
import { renderRecordText, toRecordJson } from '../../functions/domain/record-json.js';
import { localStatePath, readLocalState, removeLocalState, writeLocalState } from '../../local/api-state.js';
import type { LocalEnvironment as LocalEnvironmentType } from '../../local/environment.js';
import { renderReportHtml } from '../../report/html.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT_CODES, type ExitCode, line } from '../io.js';
import { exitForOutcome, FINAL_ERRORS } from './follow.js';

/** The demo service `local` deploys when the cluster does not have it yet. */
export const LOCAL_SERVICE = {
  name: 'storefront',
  container: 'storefront',
  repository: 'registry.local/shop/storefront',
  initialTag: 'v1.0.0',
  replicas: 4,
  /** `--hpa`: 4 to 8 replicas at 100m CPU per pod; the demo's pods are given 150m, above it. */
  autoscaler: { minReplicas: 4, maxReplicas: 8, cpuPerPod: '100m' },
  loadPerPod: '150m',
} as const;

/** Scenarios beyond the traffic profiles: `crash` also gives the new image a `-crash` tag. */
export const SCENARIOS = ['healthy', ...PROFILE_NAMES.filter((p) => p !== 'healthy')] as const;

export interface LocalOptions {
  readonly scenario: string;
  readonly traffic?: string;
  readonly image?: string;
  readonly mode?: string;
  readonly speed?: number;
  readonly json?: boolean;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly functionsKubeconfig?: string;
  readonly namespace: string;
  readonly requestedBy?: string;
  readonly changeRef?: string;
  readonly recordOut?: string;
  readonly report?: string;
  /** Put a HorizontalPodAutoscaler on the demo service (and, when deployed here, load above its target). */
  readonly hpa?: boolean;
  /**
   * Seconds without a request from an attached CLI (`--local watch`, ...) after which the
   * environment is taken down once its releases ended. @default {@link LOCAL_LINGER_SECONDS}
   */
  readonly linger?: number;
}

/**
 * How long `local` keeps serving attached CLIs after its release ended: until this many seconds
 * pass without a request. Above the CLI's default poll intervals (watch 5 s, status --watch 10 s),
 * so a CLI that polls at its default sees the end before the environment goes.
 */
export const LOCAL_LINGER_SECONDS = 12;

/**
 * Waits, after the release, for what is attached to the local API: executions started through it
 * (`start --local`) to end, then the CLIs polling it to go quiet for `lingerMs`.
 */
async function serveAttached(env: LocalEnvironmentType, lingerMs: number, say: (s: string) => void) {
  if (env.apiRunsRunning > 0) {
    say(`==> waiting for ${env.apiRunsRunning} release(s) started through the local API`);
    await env.apiRunsEnded();
  }
  let told = false;
  for (;;) {
    const last = env.apiActivity()?.lastRequestAt ?? null;
    const left = last === null ? 0 : last + lingerMs - Date.now();
    if (left <= 0) return;
    if (!told) {
      say(`==> a CLI is attached: serving it until it has been quiet for ${lingerMs / 1000} s (--linger)`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, Math.min(left, 1000)));
  }
}

const ROLE_MANIFEST = fileURLToPath(new URL('../../infra/k8s/tps-deploy-role.yaml', import.meta.url));

/** The next version after `image`'s tag: v1.4.2 -> v1.5.0; anything else -> `<tag>-next`. */
export function nextImage(image: string): string {
  const tag = imageVersion(image);
  const repo = image.slice(0, image.length - tag.length - 1);
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(tag);
  if (!m) return `${repo}:${tag}-next`;
  return `${repo}:v${m[1]}.${Number(m[2]) + 1}.0`;
}

function pickProfile(opts: LocalOptions): TrafficProfile {
  try {
    if (opts.traffic) return loadProfile(opts.traffic);
    if (!(PROFILE_NAMES as readonly string[]).includes(opts.scenario)) {
      throw new CliError(
        `--scenario: unknown scenario "${opts.scenario}"; use one of ${SCENARIOS.join(', ')}, or --traffic profile.json`,
        EXIT_CODES.usage,
      );
    }
    return loadProfile(opts.scenario);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new CliError(`${opts.traffic ? '--traffic' : '--scenario'}: ${error.message}`, EXIT_CODES.usage);
    }
    throw error;
  }
}

function catalogFor(namespace: string, scenario: string): CatalogInput {
  return {
    appName: 'tps-local',
    services: {
      [LOCAL_SERVICE.name]: {
        description: 'tps-deploy local demo service',
        cluster: { name: 'local', region: 'us-east-1' },
        namespace,
        deployment: LOCAL_SERVICE.name,
        containers: [LOCAL_SERVICE.container],
        router: { type: 'replica-ratio', service: LOCAL_SERVICE.name },
        slo: { p99Ms: PROFILE_SLO_P99_MS },
        metrics: { source: 'synthetic', profile: scenario },
        // A simulation on the local cluster: judged on synthetic traffic, never released for real.
        sandbox: true,
        // Nobody is there to approve a local run, and someone is always "on call" for it.
        approval: false,
        onCall: { schedule: [{ who: 'local', days: [...ALL_DAYS], start: '00:00', end: '24:00' }] },
      },
    },
  };
}

const ALL_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** What a local run attests for the attestations gate (it is a simulation: there is no CI to ask). */
export const LOCAL_ATTESTATIONS = {
  testsPassed: true,
  reviewers: ['local-reviewer-1', 'local-reviewer-2'],
  evidence: { source: 'tps-deploy local (simulated release)' },
} as const;

/** The input of the release, checked as "Validate Input" will check it. */
function releaseInput(catalog: CatalogInput, image: string, opts: LocalOptions, who: string) {
  const input = {
    service: LOCAL_SERVICE.name,
    image,
    mode: opts.mode === 'hotfix' ? 'hotfix' : 'standard',
    requestedBy: opts.requestedBy ?? who,
    ...(opts.changeRef ? { changeRef: opts.changeRef } : {}),
    attestations: {
      ...LOCAL_ATTESTATIONS,
      reviewers: [...LOCAL_ATTESTATIONS.reviewers],
      evidence: { ...LOCAL_ATTESTATIONS.evidence },
    },
  };
  try {
    parseExecutionInput(input, parseCatalog(catalog), 'local-validation');
  } catch (error) {
    if (error instanceof InvalidInputError) throw new CliError(error.message, EXIT_CODES.usage);
    throw error;
  }
  return input;
}

function withCrashTag(image: string): string {
  return imageVersion(image).endsWith('-crash') ? image : `${image}-crash`;
}

/** Reads the demo Deployment's image, or null when it does not exist; unreachable clusters throw a CliError. */
async function currentImage(kubeconfig: string, namespace: string): Promise<string | null> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const server = kc.getCurrentCluster()?.server ?? '(no current cluster)';
  const apps = kc.makeApiClient(AppsV1Api);
  try {
    const dep = await apps.readNamespacedDeployment({ name: LOCAL_SERVICE.name, namespace });
    return dep.spec?.template.spec?.containers.find((c) => c.name === LOCAL_SERVICE.container)?.image ?? null;
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code === 404) return null;
    const detail = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new CliError(
      `cannot reach the Kubernetes API server at ${server} (kubeconfig ${kubeconfig}): ${detail}. Is the cluster up? (tps-deploy cluster status)`,
      EXIT_CODES.failed,
      { cause: error },
    );
  }
}

export async function localCommand(ctx: CliContext, opts: LocalOptions): Promise<ExitCode> {
  const { stdout, stderr } = ctx.io;
  const say = (s: string) => line(stderr, s);
  if (opts.mode !== undefined && opts.mode !== 'hotfix' && opts.mode !== 'standard') {
    throw new CliError(`--mode: "${opts.mode}" is not a mode; use hotfix (or standard)`, EXIT_CODES.usage);
  }
  if (opts.speed !== undefined && !(opts.speed > 0)) {
    throw new CliError('--speed: give a positive number (virtual seconds per real second)', EXIT_CODES.usage);
  }
  if (opts.context && !opts.kubeconfig) {
    throw new CliError('--context needs --kubeconfig', EXIT_CODES.usage);
  }
  if (opts.linger !== undefined && !(opts.linger >= 0)) {
    throw new CliError('--linger: give a number of seconds, 0 or more', EXIT_CODES.usage);
  }
  const scenario = opts.traffic ? 'custom' : opts.scenario;
  const profile = pickProfile(opts);
  const catalog = catalogFor(opts.namespace, opts.traffic ? 'healthy' : opts.scenario);
  const crash = opts.scenario === 'crash';
  if (opts.image) releaseInput(catalog, crash ? withCrashTag(opts.image) : opts.image, opts, ctx.who());

  // Dynamic imports: the cluster and CDK modules are heavy, and only `local` needs them.
  const clusterModule = await import('../../local/cluster/index.js');
  const { createDemoApp, createDemoAutoscaler, describeDemoAutoscaler } = await import(
    '../../local/demo-app.js'
  );
  const { LocalEnvironment } = await import('../../local/environment.js');

  let startedCluster: string | null = null;
  let tmpDir: string | null = null;
  let env: LocalEnvironmentType | undefined;
  const statePath = localStatePath(ctx.env);
  let stateWritten = false;
  try {
    let adminKubeconfig: string;
    let functionsKubeconfig: string | undefined;
    if (opts.kubeconfig) {
      adminKubeconfig = opts.kubeconfig;
      if (opts.context) {
        const kc = new KubeConfig();
        try {
          kc.loadFromFile(opts.kubeconfig);
          kc.setCurrentContext(opts.context);
        } catch (error) {
          throw new CliError(`--kubeconfig/--context: ${(error as Error).message}`, EXIT_CODES.usage);
        }
        if (!kc.getContextObject(opts.context)) {
          throw new CliError(
            `--context: no context "${opts.context}" in ${opts.kubeconfig} (it has ${kc
              .getContexts()
              .map((c) => c.name)
              .join(', ')})`,
            EXIT_CODES.usage,
          );
        }
        tmpDir = await mkdtemp(join(tmpdir(), 'tps-local-'));
        adminKubeconfig = join(tmpDir, 'kubeconfig');
        await writeFile(adminKubeconfig, kc.exportConfig(), { mode: 0o600 });
      }
      functionsKubeconfig = opts.functionsKubeconfig;
    } else {
      const name = `tps-local-${process.pid}`;
      say(`==> starting the embedded local control plane (${name}); the first run builds it (minutes)`);
      const info = await clusterModule.startCluster({
        name,
        ownerPid: process.pid,
        log: (l: string) => say(`    ${l}`),
      });
      startedCluster = name;
      adminKubeconfig = info.kubeconfig;
      functionsKubeconfig = opts.functionsKubeconfig;
    }

    let current = await currentImage(adminKubeconfig, opts.namespace);
    if (current === null) {
      current = `${LOCAL_SERVICE.repository}:${LOCAL_SERVICE.initialTag}`;
      say(
        `==> deploying the demo service ${opts.namespace}/${LOCAL_SERVICE.name} (${LOCAL_SERVICE.replicas} replicas of ${current})`,
      );
      await createDemoApp(adminKubeconfig, {
        namespace: opts.namespace,
        name: LOCAL_SERVICE.name,
        image: current,
        replicas: LOCAL_SERVICE.replicas,
        roleManifest: ROLE_MANIFEST,
        // Above the HPA's target: on the embedded cluster (KWOK usage, metrics-server) the HPA
        // scales the service up while the release runs. Inert elsewhere.
        ...(opts.hpa ? { cpuUsage: LOCAL_SERVICE.loadPerPod } : {}),
        appName: catalog.appName ?? 'tps-local',
      });
    }
    if (opts.hpa) {
      const a = LOCAL_SERVICE.autoscaler;
      const created = await createDemoAutoscaler(adminKubeconfig, opts.namespace, LOCAL_SERVICE.name, a);
      say(
        `==> ${created ? 'created' : 'kept the existing'} HorizontalPodAutoscaler ${opts.namespace}/${LOCAL_SERVICE.name} (${a.minReplicas}-${a.maxReplicas} replicas, ${a.cpuPerPod} CPU per pod): tps-deploy sizes the canary from the count it sets and never scales the stable version`,
      );
    }
    let image = opts.image ?? nextImage(current);
    if (crash) image = withCrashTag(image);
    const input = releaseInput(catalog, image, opts, ctx.who());

    say('==> synthesizing the CDK app and loading the state machine into aws-local-stepfunctions');
    env = await LocalEnvironment.start({
      catalog,
      kubeconfigs: functionsKubeconfig
        ? { read: functionsKubeconfig, write: functionsKubeconfig }
        : clusterModule.canMintFunctionIdentities(adminKubeconfig)
          ? await clusterModule.mintFunctionIdentities(adminKubeconfig, catalog.appName ?? 'tps-local')
          : { read: adminKubeconfig, write: adminKubeconfig },
      profiles: { [LOCAL_SERVICE.name]: profile },
      // The progress above is this command's output; the functions' JSON lines would bury it.
      functionOutput: discardLines,
    });
    // The stack's alarms, evaluated on the run's traffic: each state change that matters (not the
    // first evaluation's INSUFFICIENT_DATA -> OK) is shown with the state machine's progress.
    env.cloudwatch.onStateChange((c) => {
      if (c.from === 'INSUFFICIENT_DATA' && c.to === 'OK') return;
      say(
        `    [virtual ${c.at.toISOString().slice(11, 19)}] alarm ${c.alarm}: ${c.from} -> ${c.to}: ${c.reason}`,
      );
    });
    // Other terminals attach through the local API: `tps-deploy --local list | watch <id> | ...`.
    const state = await env.serve({ runOptions: { ...(opts.speed ? { speed: opts.speed } : {}) } });
    const previous = readLocalState(statePath);
    if (previous.ok && previous.state.pid !== process.pid) {
      say(`==> replacing the state file of the local environment of process ${previous.state.pid}`);
    }
    writeLocalState(statePath, state);
    stateWritten = true;
    const deploymentId = `local-${Date.now()}-${randomUUID().slice(0, 8)}`;
    say(
      `==> release ${image} (scenario ${scenario}${input.mode === 'hotfix' ? ', hotfix' : ''}), was ${current}`,
    );
    say(`==> deployment ${deploymentId}: tps-deploy --local watch ${deploymentId} (state file ${statePath})`);
    const pollsShown = new Set<string>();
    const result = await env.run(input, {
      executionName: deploymentId,
      ...(opts.speed ? { speed: opts.speed } : {}),
      onState: (state: string, type: string, at: Date) => {
        if (type === 'Choice') return;
        if (type === 'Pass' && !/Failed|Inconclusive/.test(state)) return;
        // Readiness loops repeat every poll: show each of their states once per loop.
        if (/^(Wait For|Check) .* Pods/.test(state)) {
          if (pollsShown.has(state)) return;
          pollsShown.add(state);
        } else {
          pollsShown.clear();
        }
        say(`    [virtual ${at.toISOString().slice(11, 19)}] ${state}`);
      },
    });
    say(
      `==> execution ${result.status}${result.error ? ` (${result.error})` : ''} in ${(result.realMs / 1000).toFixed(1)} s real, ${Math.round(result.virtualSeconds / 60)} min virtual`,
    );
    if (opts.hpa) {
      say(`==> ${await describeDemoAutoscaler(adminKubeconfig, opts.namespace, LOCAL_SERVICE.name)}`);
    }
    await serveAttached(env, (opts.linger ?? LOCAL_LINGER_SECONDS) * 1000, say);
    const record = result.record;
    if (!record) {
      throw new CliError(
        `the execution ended ${result.status} without a record: ${result.error}: ${result.cause}`,
      );
    }
    if (opts.recordOut) {
      writeFileSync(opts.recordOut, `${JSON.stringify(record, null, 2)}\n`);
      say(`    record written to ${opts.recordOut}`);
    }
    if (opts.report) {
      writeFileSync(opts.report, renderReportHtml(record));
      say(`    HTML report written to ${opts.report}`);
    }
    line(stdout, opts.json ? JSON.stringify(toRecordJson(record), null, 2) : renderRecordText(record));
    if (result.error === FINAL_ERRORS.rollbackFailed) return EXIT_CODES.rollbackFailed;
    return exitForOutcome(record.outcome);
  } finally {
    if (stateWritten) removeLocalState(statePath, process.pid);
    await env?.stop();
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
    if (startedCluster) {
      say('==> taking the local control plane down');
      await clusterModule.stopCluster(startedCluster);
    }
  }
}
