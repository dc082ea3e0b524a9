/**
 * The sample catalog releases: the console input exactly as README.md shows it ("Starting a
 * release", read from the README here so the two cannot drift) runs against tps.config.ts as
 * shipped, through the synthesized state machine, on the local cluster (the sample's namespace and
 * Deployment created as fixtures, the shipped Roles applied for the sample's appName), with dynalite
 * for the table. The team lead the sample names approves; the release passes every gate and
 * reaches the canary: the canary Deployment runs the README's image behind the Service at its share.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
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
  namespaceWithShippedRole,
  readyEndpointPods,
} from '../helpers/k8s.js';

jest.setTimeout(300_000);

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** The first JSON block of the README's "Starting a release" section, parsed. */
function readmeConsoleInput(markdown: string): { service: string } & Record<string, unknown> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Starting a release'));
  if (!section) throw new Error('README.md has no "## Starting a release" section');
  const block = /```json\n([\s\S]*?)\n```/.exec(section);
  if (!block?.[1]) throw new Error('README.md "Starting a release" has no ```json block');
  return JSON.parse(block[1]) as { service: string } & Record<string, unknown>;
}

const input = readmeConsoleInput(readFileSync(README, 'utf8'));
const catalog = parseCatalog(sample);
const svc = catalog.services[input.service];

/**
 * A session of `person` under the first approver role the sample names (what the answer endpoint
 * would verify); a `*` in the role's name stands for IAM Identity Center's suffix.
 */
function approverSession(person: string): string {
  const role = svc?.duties?.approvers?.[0];
  const m = role ? /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(role) : null;
  if (!m) throw new Error(`services.${input.service}.duties.approvers[0] is not a role ARN: ${role}`);
  return `arn:aws:sts::${m[1]}:assumed-role/${m[2]!.replace('*', 'a1b2c3d4e5f6')}/${person}`;
}

let env: LocalEnvironment | undefined;
let namespace: string | undefined;

beforeAll(async () => {
  if (!svc) throw new Error(`the README's service "${input.service}" is not in tps.config.ts`);
  // The sample's namespace with the shipped Roles bound to the sample app's groups, and its
  // Deployment and Service (10 replicas: a 10% step is then exact with the replica-ratio router).
  namespace = await namespaceWithShippedRole(svc.namespace, catalog.appName, { exactName: true });
  if (svc.router.type !== 'replica-ratio')
    throw new Error('the README example expects a replica-ratio service');
  expect(svc.router.service).toBe(svc.deployment);
  await createApp(namespace, svc.deployment, { replicas: 10 });
  env = await LocalEnvironment.start({
    catalog: sample,
    kubeconfigs: await functionIdentities(catalog.appName),
    kubeRetry: { baseDelayMs: 50, maxDelayMs: 500 },
    functionOutput: discardLines,
  });
});

afterAll(async () => {
  await env?.stop();
  if (namespace) await deleteNamespace(namespace);
});

async function recordWhen(name: string, ready: (r: DeploymentRecord) => boolean): Promise<DeploymentRecord> {
  return eventually(`record ${name}`, async () => {
    const r = await env!.store.get(input.service, name);
    return r && ready(r) ? r : undefined;
  });
}

describe("the sample catalog with the README's console input", () => {
  test('passes every gate, is approved by the lead and reaches the canary at its share', async () => {
    const name = 'readme-console-example';
    const states: string[] = [];
    let atCanary: Promise<{ canaryImage?: string; canaryReplicas?: number; endpoints: string[] }> | null =
      null;
    const { apps } = adminApis();
    const running = env!.run(input, {
      executionName: name,
      // Time to look at the cluster while the canary window runs (virtual time still takes 10 min).
      waitMs: { 'Canary Validation Window': 3_000 },
      onState: (state) => {
        states.push(state);
        if (state === 'Canary Validation Window') {
          atCanary = (async () => {
            const canary = await apps.readNamespacedDeployment({
              name: `${svc!.deployment}-tps-canary`,
              namespace: namespace!,
            });
            return {
              canaryImage: canary.spec?.template.spec?.containers.find((c) => c.name === svc!.containers[0])
                ?.image,
              canaryReplicas: canary.spec?.replicas,
              endpoints: await readyEndpointPods(namespace!, svc!.deployment),
            };
          })();
        }
      },
    });

    // With the sample's approval on, the release waits for the team lead; a run that ends first
    // (a failed gate) shows its error and cause here.
    const first = await Promise.race([
      running.then((r) => ({
        ended: { status: r.status, error: r.error, cause: r.cause, states: r.states },
      })),
      recordWhen(name, (r) => !!r.pendingApproval).then((r) => ({ waiting: r })),
    ]);
    expect(first).toHaveProperty('waiting');
    const waiting = (first as { waiting: DeploymentRecord }).waiting;
    expect(waiting.gates?.length).toBeGreaterThan(0);
    expect(waiting.gates?.filter((g) => !g.passed)).toEqual([]);
    expect(waiting.gates?.find((g) => g.name === 'on-call')?.evidence).toMatch(/^on call: /);

    // Started as the console starts it (StartExecution, the requester unverified): two leads approve.
    const ask = {
      service: input.service,
      deploymentId: name,
      action: 'approve',
      reason: 'sample catalog test',
    } as const;
    expect(await env!.answer(ask, approverSession('lee@example.com'))).toMatchObject({ delivered: false });
    expect(await env!.answer(ask, approverSession('liz@example.com'))).toMatchObject({ delivered: true });
    const run = await running;
    expect({ status: run.status, error: run.error, cause: run.cause }).toEqual({
      status: 'SUCCEEDED',
      error: null,
      cause: null,
    });
    const runbook = [
      'Validate Input',
      'Check Gates',
      'Request Approval',
      'Record Approval',
      'Record Rollback Plan',
      'Shift 10% To Canary',
      'Canary Validation Window',
      'Validate Canary',
    ];
    expect(run.states.filter((s) => runbook.includes(s))).toEqual(runbook);
    expect(states).toEqual(run.states);

    // The canary ran the README's image behind the Service, at its share of the ready endpoints.
    expect(atCanary).not.toBeNull();
    const seen = await atCanary!;
    expect(seen.canaryImage).toBe(input.image);
    const canaryPods = seen.endpoints.filter((p) => p.startsWith(`${svc!.deployment}-tps-canary-`));
    expect(canaryPods).toHaveLength(seen.canaryReplicas ?? -1);
    const rec = run.record!;
    const canaryPhase = rec.phases.find((p) => p.name === 'canary')!;
    expect(canaryPhase.weight).toBe(10);
    expect(canaryPhase.verdict).toBe('pass');
    expect(canaryPhase.decisions[0]?.traffic).toEqual({ targetWeight: 10, actualWeight: 10 });
    expect((100 * canaryPods.length) / seen.endpoints.length).toBe(10);

    // The release ended where the README's input said: the Deployment runs the new image.
    expect(rec.outcome).toBe('SUCCEEDED');
    expect(rec.finalImage).toBe(input.image);
    expect(rec.requestedBy).toBe(input.requestedBy);
    expect(rec.approval).toMatchObject({ decision: 'approved', by: approverSession('liz@example.com') });
    const dep = await apps.readNamespacedDeployment({ name: svc!.deployment, namespace: namespace! });
    expect(dep.spec?.template.spec?.containers.find((c) => c.name === svc!.containers[0])?.image).toBe(
      input.image,
    );
  });
});
