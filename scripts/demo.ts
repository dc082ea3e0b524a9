/**
 * `npm run demo`: the main job on an embedded local cluster. Brings the control plane up, deploys
 * a demo service, runs a healthy release (canary 10% -> staging 50% -> production 100%) and a bad
 * one (rolled back automatically on its error rate), prints progress and both records, and takes
 * the cluster down again, whatever happens.
 */
import { fileURLToPath } from 'node:url';
import { discardLines } from '../functions/adapters/powertools/output.js';
import { loadProfile } from '../functions/adapters/synthetic/index.js';
import type { CatalogInput } from '../functions/domain/config.js';
import { renderRecordText } from '../functions/domain/record-json.js';
import { mintFunctionIdentities, startCluster, stopCluster } from '../local/cluster/index.js';
import { createDemoApp } from '../local/demo-app.js';
import { LocalEnvironment } from '../local/environment.js';

const ROLE = fileURLToPath(new URL('../infra/k8s/tps-deploy-role.yaml', import.meta.url));
const ATTESTED = { attestations: { testsPassed: true, reviewers: ['alice', 'bob'] } };
const say = (s: string) => process.stdout.write(`${s}\n`);

async function main() {
  const t0 = Date.now();
  const name = `demo-${process.pid}`;
  say(`==> starting the local control plane (${name})`);
  const cluster = await startCluster({ name, ownerPid: process.pid });
  let env: LocalEnvironment | undefined;
  try {
    say(`    kubeconfig ${cluster.kubeconfig}; nodes ${cluster.nodes.join(', ')}`);
    say('==> deploying the demo service storefront (4 replicas of storefront:v1.0.0)');
    await createDemoApp(cluster.kubeconfig, {
      namespace: 'shop',
      name: 'storefront',
      image: 'registry.local/shop/storefront:v1.0.0',
      replicas: 4,
      roleManifest: ROLE,
      appName: 'tps-demo',
    });
    const catalog: CatalogInput = {
      appName: 'tps-demo',
      services: {
        storefront: {
          description: 'Demo web shop front end',
          cluster: { name: 'local', region: 'us-east-1' },
          namespace: 'shop',
          deployment: 'storefront',
          containers: ['storefront'],
          router: { type: 'replica-ratio', service: 'storefront' },
          slo: { p99Ms: 300 },
          metrics: { source: 'synthetic', profile: 'noisy-healthy' },
          // The demo's storefront lives on the local cluster only: synthetic traffic is all it has.
          sandbox: true,
          // The demo runs unattended: no team-lead approval step, and someone is always on call.
          approval: false,
          onCall: {
            schedule: [
              {
                who: 'demo-oncall',
                days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
                start: '00:00',
                end: '24:00',
              },
            ],
          },
        },
      },
    };
    say('==> synthesizing the CDK app and loading the state machine into aws-local-stepfunctions');
    // The demo narrates; the functions' JSON lines would bury it.
    env = await LocalEnvironment.start({
      catalog,
      kubeconfigs: await mintFunctionIdentities(cluster.kubeconfig, 'tps-demo'),
      functionOutput: discardLines,
    });
    const progress = (state: string, type: string, at: Date) => {
      if (type === 'Choice' || type === 'Pass') return;
      say(`    [virtual ${at.toISOString().slice(11, 19)}] ${state}`);
    };

    say('\n==> release 1: storefront:v1.1.0 (healthy)');
    const good = await env.run(
      {
        service: 'storefront',
        image: 'registry.local/shop/storefront:v1.1.0',
        requestedBy: 'demo',
        changeRef: 'CHG-101',
        ...ATTESTED,
      },
      { onState: progress },
    );
    say(
      `    execution ${good.status} in ${(good.realMs / 1000).toFixed(1)} s real, ${Math.round(good.virtualSeconds / 60)} min virtual`,
    );
    say(renderRecordText(good.record!));

    say('\n==> release 2: storefront:v1.2.0 (2% errors on the new version)');
    env.setProfile('storefront', loadProfile('error-spike'));
    const bad = await env.run(
      {
        service: 'storefront',
        image: 'registry.local/shop/storefront:v1.2.0',
        requestedBy: 'demo',
        changeRef: 'CHG-102',
        ...ATTESTED,
      },
      { onState: progress },
    );
    say(`    execution ${bad.status} (${bad.error}) in ${(bad.realMs / 1000).toFixed(1)} s real`);
    say(renderRecordText(bad.record!));
    const ok = good.record?.outcome === 'SUCCEEDED' && bad.record?.outcome === 'ROLLED_BACK';
    say(`\n==> demo ${ok ? 'done' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (!ok) process.exitCode = 1;
  } finally {
    await env?.stop();
    say('==> taking the local control plane down');
    await stopCluster(name);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
