/**
 * The release pipeline example end to end, as far as it runs here: the build's release.json writer
 * (decoded from the synthesized buildspec, run with the synthesized project's and action's
 * environment: test/helpers/release-build.ts) with a passing and a failing test step, and the file
 * it writes started through the SYNTHESIZED state machine of the sample catalog's `api` service on
 * the local cluster, as the pipeline's Step Functions action starts it (the file's content is the
 * execution input). The catalog requires the tests attestation from the example's build action
 * (`duties.requireTestsFrom`); CodePipeline's record of that action execution is the local stand-in
 * (LocalPipelineRecords), filled with what CodePipeline records once the build action succeeded:
 * its status and the output variables the build exported (TPS_TESTS_PASSED, TPS_IMAGE), read from
 * the build's environment at its end (recordedActionExecution), not chosen by the test.
 *
 * The failing build's release is refused by the "attestations" and "tests provenance" gates before
 * any cluster change; the same release.json edited to say `testsPassed: true` is refused by the
 * "tests provenance" gate alone; the passing one passes every gate, is approved by two leads and
 * reaches the canary with the image the build pushed.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { canaryName } from '../../functions/adapters/kubernetes/labels.js';
import { discardLines } from '../../functions/adapters/powertools/output.js';
import { parseCatalog } from '../../functions/domain/config.js';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import { LocalEnvironment } from '../../local/environment.js';
import sample from '../../tps.config.js';
import {
  adminApis,
  createApp,
  deleteNamespace,
  eventually,
  functionIdentities,
  liveTemplate,
  namespaceWithShippedRole,
  readyEndpointPods,
} from '../helpers/k8s.js';
import {
  type PipelineRun,
  pipelineRun,
  recordedActionExecution,
  runReleaseWriter,
  synthesizeReleaseBuild,
} from '../helpers/release-build.js';

jest.setTimeout(300_000);

const { appName } = parseCatalog(sample);
const build = synthesizeReleaseBuild(appName);
const SERVICE = 'api';
const svcInput = sample.services[SERVICE]!;
/** The image the build pushed: `<repository>:<commit[0:12]>@<digest>`, as the buildspec writes TPS_IMAGE. */
const imageOf = (run: PipelineRun) =>
  `123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api:${run.commit.slice(0, 12)}@sha256:${'9b2f6c1d'.repeat(8)}`;

let env: LocalEnvironment | undefined;
let namespace: string | undefined;

beforeAll(async () => {
  namespace = await namespaceWithShippedRole('shop-pipeline', appName);
  // 10 replicas: a 10% step is exact with the replica-ratio router.
  await createApp(namespace, svcInput.deployment, { replicas: 10 });
  env = await LocalEnvironment.start({
    catalog: {
      ...sample,
      services: {
        ...sample.services,
        [SERVICE]: {
          ...svcInput,
          namespace,
          duties: {
            ...svcInput.duties!,
            requireTestsFrom: { pipeline: build.pipelineName, action: build.buildActionName },
          },
        },
      },
    },
    kubeconfigs: await functionIdentities(appName),
    kubeRetry: { baseDelayMs: 50, maxDelayMs: 500 },
    functionOutput: discardLines,
  });
});

afterAll(async () => {
  await env?.stop();
  if (namespace) await deleteNamespace(namespace);
});

/**
 * Runs the build's writer for `run`; CodePipeline then records the build action as succeeded, with
 * the variables the build exported.
 */
function buildRelease(run: PipelineRun, testCommand: string): Record<string, unknown> {
  const w = runReleaseWriter({ build, run, testCommand, image: imageOf(run), reviewers: 'alice,bob' });
  // The build succeeds either way: the writer wrote the file (the test output is in its log).
  expect({ status: w.status, written: w.release !== null }).toEqual({ status: 0, written: true });
  env!.pipelines.record(recordedActionExecution(build, run, w));
  return w.release!;
}

/** The service's Deployments, its template and replicas (as admin). */
async function clusterState() {
  const { apps } = adminApis();
  const deployments = (await apps.listNamespacedDeployment({ namespace: namespace! })).items;
  return {
    deployments: deployments.map((d) => d.metadata?.name).sort(),
    replicas: deployments.find((d) => d.metadata?.name === svcInput.deployment)?.spec?.replicas,
    template: await liveTemplate(namespace!, svcInput.deployment),
  };
}

/** A session of `person` under the sample's approver role (IAM Identity Center's suffix filled in). */
function approverSession(person: string): string {
  const m = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(svcInput.duties!.approvers![0]!)!;
  return `arn:aws:sts::${m[1]}:assumed-role/${m[2]!.replace('*', 'a1b2c3d4e5f6')}/${person}`;
}

describe("the release pipeline's release.json through the synthesized state machine", () => {
  test('a build whose tests failed: the attestations and tests provenance gates refuse its release and nothing in the cluster changes', async () => {
    const run = pipelineRun();
    const release = buildRelease(run, 'echo "2 tests failed" >&2; exit 1');
    expect((release.attestations as { testsPassed: boolean }).testsPassed).toBe(false);
    const before = await clusterState();
    expect(before.deployments).toEqual([svcInput.deployment]);

    const result = await env!.run(
      { ...release, service: SERVICE },
      { executionName: 'pipeline-tests-failed' },
    );
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('GateFailedError');
    expect(result.cause).toMatch(/^2 of 9 gates failed: /);
    expect(result.cause).toContain('attestations: tests did not pass (attestations.testsPassed is false)');
    expect(result.states).not.toContain('Shift 10% To Canary');
    const record = result.record!;
    expect(record.outcome).toBe('REJECTED');
    expect(record.phases).toEqual([]);
    expect(
      record
        .gates!.filter((g) => !g.passed)
        .map((g) => g.name)
        .sort(),
    ).toEqual(['attestations', 'tests provenance']);
    // The build did run, in this pipeline execution, and succeeded; what it exported says the tests failed.
    expect(record.gates!.find((g) => g.name === 'tests provenance')?.evidence).toBe(
      `action execution ${run.actionExecutionId} in pipeline ${build.pipelineName} execution ${run.pipelineExecutionId} (Build/${build.buildActionName}, Succeeded at 2026-12-06T09:00:00.000Z): its output variable TPS_TESTS_PASSED is "false", not "true"`,
    );
    // Nothing changed: the Deployment's template and replicas, and no canary Deployment.
    expect(await clusterState()).toEqual(before);
    expect((await clusterState()).deployments).not.toContain(canaryName(svcInput.deployment));
    expect(await env!.store.active(SERVICE)).toBeNull();
  });

  test("the failing build's release.json edited to say testsPassed true: the tests provenance gate refuses it and nothing in the cluster changes", async () => {
    const run = pipelineRun();
    const release = buildRelease(run, 'echo "2 tests failed" >&2; exit 1');
    const forged = {
      ...release,
      attestations: { ...(release.attestations as Record<string, unknown>), testsPassed: true },
    };
    const before = await clusterState();

    const result = await env!.run(
      { ...forged, service: SERVICE },
      { executionName: 'pipeline-tests-forged' },
    );
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('GateFailedError');
    expect(result.cause).toMatch(/^1 of 9 gates failed: tests provenance: /);
    expect(result.states).not.toContain('Shift 10% To Canary');
    const record = result.record!;
    expect(record.outcome).toBe('REJECTED');
    expect(record.phases).toEqual([]);
    // The edit satisfies the attestations gate; CodePipeline's record of the build does not move.
    expect(record.gates!.filter((g) => !g.passed).map((g) => g.name)).toEqual(['tests provenance']);
    expect(record.gates!.find((g) => g.name === 'tests provenance')?.evidence).toMatch(
      /\(Build\/BuildAndTest, Succeeded at [^)]+\): its output variable TPS_TESTS_PASSED is "false", not "true"$/,
    );
    expect(await clusterState()).toEqual(before);
    expect(await env!.store.active(SERVICE)).toBeNull();
  });

  test('a build whose tests passed: every gate passes, two leads approve, and the canary runs the pushed image', async () => {
    const run = pipelineRun();
    const release = buildRelease(run, 'exit 0');
    const name = 'pipeline-tests-passed';
    const { apps } = adminApis();
    let atCanary: Promise<{ image?: string; replicas?: number; endpoints: string[] }> | null = null;
    const running = env!.run(
      { ...release, service: SERVICE },
      {
        executionName: name,
        waitMs: { 'Canary Validation Window': 3_000 },
        onState: (state) => {
          if (state !== 'Canary Validation Window') return;
          atCanary = (async () => {
            const canary = await apps.readNamespacedDeployment({
              name: canaryName(svcInput.deployment),
              namespace: namespace!,
            });
            return {
              image: canary.spec?.template.spec?.containers.find((c) => c.name === svcInput.containers[0])
                ?.image,
              replicas: canary.spec?.replicas,
              endpoints: await readyEndpointPods(namespace!, svcInput.deployment),
            };
          })();
        },
      },
    );
    // The release waits for the team leads (a pipeline's start is not a verified requester: two).
    const first = await Promise.race([
      running.then((r) => ({ ended: { status: r.status, error: r.error, cause: r.cause } })),
      eventually(`record ${name} waiting for approval`, async () => {
        const r = await env!.store.get(SERVICE, name);
        return r?.pendingApproval ? { waiting: r } : undefined;
      }),
    ]);
    expect(first).toHaveProperty('waiting');
    const waiting = (first as { waiting: DeploymentRecord }).waiting;
    expect(waiting.gates).toHaveLength(9);
    expect(waiting.gates?.filter((g) => !g.passed)).toEqual([]);
    expect(waiting.gates?.find((g) => g.name === 'tests provenance')?.evidence).toBe(
      `CodePipeline recorded action execution ${run.actionExecutionId} in pipeline ${build.pipelineName} execution ${run.pipelineExecutionId} (Build/${build.buildActionName}, Succeeded at 2026-12-06T09:00:00.000Z): TPS_TESTS_PASSED=true, TPS_IMAGE=${release.image}`,
    );
    expect(waiting.attestationProvenance?.testsPassed).toEqual({
      source: 'codepipeline-action',
      actionName: build.buildActionName,
      actionExecutionId: run.actionExecutionId,
      pipelineExecutionId: run.pipelineExecutionId,
    });
    const ask = {
      service: SERVICE,
      deploymentId: name,
      action: 'approve',
      reason: 'pipeline example',
    } as const;
    expect(await env!.answer(ask, approverSession('lee@example.com'))).toMatchObject({ delivered: false });
    expect(await env!.answer(ask, approverSession('liz@example.com'))).toMatchObject({ delivered: true });

    const result = await running;
    expect({ status: result.status, error: result.error, cause: result.cause }).toEqual({
      status: 'SUCCEEDED',
      error: null,
      cause: null,
    });
    expect(result.states).toContain('Shift 10% To Canary');
    expect(atCanary).not.toBeNull();
    const seen = await atCanary!;
    expect(seen.image).toBe(release.image);
    const canaryPods = seen.endpoints.filter((p) => p.startsWith(`${canaryName(svcInput.deployment)}-`));
    expect(canaryPods).toHaveLength(seen.replicas ?? -1);
    expect((100 * canaryPods.length) / seen.endpoints.length).toBe(10);
    const record = result.record!;
    expect(record.outcome).toBe('SUCCEEDED');
    expect(record.changeRef).toBe(run.commit);
    expect(record.requestedBy).toBe('codepipeline');
    expect(record.finalImage).toBe(release.image);
  });
});
