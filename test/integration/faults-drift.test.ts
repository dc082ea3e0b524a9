/**
 * Drift: a person edits the original Deployment while the canary runs. The release notices
 * (ClusterClient.drift, checked by "Shift N%" and "Validate <Phase>"), stops, removes only its own
 * canary objects, gives traffic and replicas back, and leaves the person's change exactly as they
 * made it. The record says what changed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { CANARY_SUFFIX, K8S_LABELS } from '../../functions/adapters/kubernetes/labels.js';
import { clusterEnv } from '../helpers/cluster-env.js';
import { adminApis, OLD_IMAGES } from '../helpers/k8s.js';
import { ATTESTED, closeFixtures, NEW_IMAGES, recordWhen, runbookFixture } from '../helpers/runbook.js';

jest.setTimeout(180_000);
const run = promisify(execFile);

afterAll(closeFixtures);

describe('drift during the canary', () => {
  test('kubectl set env on the original Deployment stops the release without overwriting the change', async () => {
    const f = await runbookFixture('drift', { approval: false });
    const execution = f.env.run(
      { ...ATTESTED, service: 'shop', images: NEW_IMAGES, requestedBy: 'drift-test' },
      // A long real canary window, so the person's edit lands inside it.
      { executionName: 'drift-1', waitMs: { 'Canary Validation Window': 4000 } },
    );
    await recordWhen(f, 'drift-1', 'canary pods ready', (r) =>
      r.events.some((e) => /canary: pods ready/.test(e.message)),
    );
    const env = clusterEnv();
    await run(env.kubectl, [
      `--kubeconfig=${env.kubeconfig}`,
      '-n',
      f.app.namespace,
      'set',
      'env',
      `deployment/${f.app.name}`,
      '-c',
      'api',
      'FEATURE_FLAG=on-call-fix',
    ]);
    const { apps, core } = adminApis();
    const edited = await apps.readNamespacedDeployment({ name: f.app.name, namespace: f.app.namespace });
    const editedTemplate = JSON.stringify(edited.spec?.template.spec?.containers);

    const result = await execution;
    expect(result.status).toBe('FAILED');
    expect(result.states).toContain('Roll Back');
    expect(result.states).not.toContain('Shift 50% To Staging');
    expect(result.cause).toMatch(/DriftDetectedError/);

    // The record says what changed, and that it was left alone.
    const rec = result.record!;
    expect(rec.outcome).toBe('ROLLED_BACK');
    expect(rec.rollback?.reason).toMatch(/^DriftDetectedError: .*spec\.template\.spec\.containers\[0\]\.env/);
    expect(rec.events.some((e) => /drift: someone changed deployment/.test(e.message))).toBe(true);
    expect(rec.events.some((e) => /left as the person changed it/.test(e.message))).toBe(true);
    expect(rec.finalImage).toBe(OLD_IMAGES.api);

    // The person's change is intact: same containers, env included, old images.
    const live = await apps.readNamespacedDeployment({ name: f.app.name, namespace: f.app.namespace });
    expect(JSON.stringify(live.spec?.template.spec?.containers)).toBe(editedTemplate);
    const api = live.spec?.template.spec?.containers.find((c) => c.name === 'api');
    expect(api?.env).toEqual(expect.arrayContaining([{ name: 'FEATURE_FLAG', value: 'on-call-fix' }]));
    expect(api?.image).toBe(OLD_IMAGES.api);
    // Only tps-deploy's objects are gone; capacity and the Service's selector are back.
    expect(live.spec?.replicas).toBe(4);
    const deployments = (await apps.listNamespacedDeployment({ namespace: f.app.namespace })).items;
    expect(deployments.map((d) => d.metadata?.name)).not.toContain(`${f.app.name}${CANARY_SUFFIX}`);
    expect(deployments.filter((d) => d.metadata?.labels?.[K8S_LABELS.managedBy] === 'tps-deploy')).toEqual(
      [],
    );
    const svc = await core.readNamespacedService({ name: f.app.service, namespace: f.app.namespace });
    expect(svc.spec?.selector).toEqual({ app: f.app.name });
    expect(await f.env.store.active('shop')).toBeNull();
  });
});
