/**
 * npm run cluster -- up|down|status [--name N] [--json] [--owner-pid PID] [--metrics|--no-metrics]
 *
 * up      starts the control plane (building the programs first if needed) and prints the admin
 *         kubeconfig path (or, with --json, the cluster info as JSON) on stdout; --metrics adds
 *         metrics-server and the metrics.k8s.io API (HPAs on CPU/memory)
 * down    stops every process of the cluster and removes its state directory
 * status  whether it is up, ports, pids alive, kubeconfig path, nodes (--json for JSON)
 */
import { Command } from 'commander';
import {
  ClusterAlreadyRunningError,
  clusterStatus,
  DEFAULT_CLUSTER_NAME,
  DEFAULT_METRICS,
  startCluster,
  stopCluster,
} from './index.js';

const program = new Command('cluster')
  .description('local Kubernetes control plane: etcd, kube-apiserver, controller-manager, scheduler, KWOK')
  .showHelpAfterError();

const nameOption = [
  '--name <name>',
  'cluster name (state in $TMPDIR or /tmp, under tps-deploy-clusters/<name>)',
] as const;

program
  .command('up')
  .description('start the cluster; prints the admin kubeconfig path')
  .option(...nameOption, DEFAULT_CLUSTER_NAME)
  .option('--json', 'print the cluster info as JSON instead of the kubeconfig path')
  .option('--owner-pid <pid>', 'stop the cluster automatically when this process exits', (v) => Number(v))
  .option(
    '--metrics',
    `run metrics-server: the metrics.k8s.io API for HPAs, from KWOK's usage emulation${DEFAULT_METRICS ? ' (default)' : ''}`,
  )
  .option('--no-metrics', `no metrics-server${DEFAULT_METRICS ? '' : ' (default)'}`)
  .action(async (opts: { name: string; json?: boolean; ownerPid?: number; metrics?: boolean }) => {
    const t0 = Date.now();
    try {
      const info = await startCluster({
        name: opts.name,
        ...(opts.ownerPid ? { ownerPid: opts.ownerPid } : {}),
        ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
      });
      process.stderr.write(`[cluster ${info.name}] up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      process.stdout.write(opts.json ? `${JSON.stringify(info, null, 2)}\n` : `${info.kubeconfig}\n`);
    } catch (err) {
      if (err instanceof ClusterAlreadyRunningError) {
        process.stderr.write(`${err.message}\n`);
        process.exitCode = 3;
        return;
      }
      throw err;
    }
  });

program
  .command('down')
  .description('stop the cluster and remove its state directory')
  .option(...nameOption, DEFAULT_CLUSTER_NAME)
  .action(async (opts: { name: string }) => {
    const t0 = Date.now();
    const existed = await stopCluster(opts.name);
    process.stderr.write(
      existed
        ? `[cluster ${opts.name}] down in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`
        : `[cluster ${opts.name}] no such cluster\n`,
    );
  });

program
  .command('status')
  .description('show whether the cluster is up, its ports, pids, kubeconfig and nodes')
  .option(...nameOption, DEFAULT_CLUSTER_NAME)
  .option('--json', 'print JSON')
  .action(async (opts: { name: string; json?: boolean }) => {
    const st = await clusterStatus(opts.name);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
    } else if (st.state === 'absent') {
      process.stdout.write(`cluster ${st.name}: absent (no state in ${st.stateDir})\n`);
    } else {
      const info = st.info!;
      const lines = [
        `cluster ${st.name}: ${st.state}`,
        `  api server   ${info.apiServerUrl} (readyz ${st.apiServerReady ? 'ok' : 'failing'})`,
        `  kubeconfig   ${info.kubeconfig}`,
        `  restricted   ${info.restrictedKubeconfig}`,
        `  kubectl      ${info.kubectl}`,
        `  versions     kubernetes ${info.versions.kubernetes}, etcd ${info.versions.etcd}, kwok ${info.versions.kwok}` +
          (info.versions.metricsServer ? `, metrics-server ${info.versions.metricsServer}` : ''),
        `  metrics      ${info.metrics ? 'metrics-server, metrics.k8s.io API' : 'off'}`,
        `  ports        ${Object.entries(info.ports)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
        '  processes',
        ...st.processes.map(
          (p) =>
            `    ${p.component.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${p.alive ? 'alive' : 'DEAD '}  ${p.log}`,
        ),
        `  nodes        ${st.nodes.map((n) => `${n.name}${n.ready ? '' : ' (NotReady)'}`).join(', ') || '(none)'}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    if (st.state !== 'up') process.exitCode = st.state === 'absent' ? 1 : 2;
  });

await program.parseAsync(process.argv);
