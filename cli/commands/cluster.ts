/** `tps-deploy cluster up|down|status`: the embedded local control plane (local/cluster). */
import type { CliContext } from '../context.js';
import { CliError, EXIT_CODES, type ExitCode, line } from '../io.js';

export async function clusterCommand(
  ctx: CliContext,
  action: 'up' | 'down' | 'status',
  opts: { name: string; json?: boolean },
): Promise<ExitCode> {
  const { stdout, stderr } = ctx.io;
  const cluster = await import('../../local/cluster/index.js');
  try {
    cluster.clusterStateDir(opts.name);
  } catch (error) {
    throw new CliError(`--name: ${(error as Error).message}`, EXIT_CODES.usage);
  }
  if (action === 'up') {
    const t0 = Date.now();
    try {
      const info = await cluster.startCluster({
        name: opts.name,
        log: (l: string) => line(stderr, `[cluster ${opts.name}] ${l}`),
      });
      line(stderr, `[cluster ${info.name}] up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      line(stdout, opts.json ? JSON.stringify(info, null, 2) : info.kubeconfig);
      return EXIT_CODES.ok;
    } catch (error) {
      if (error instanceof cluster.ClusterAlreadyRunningError) throw new CliError(error.message);
      throw error;
    }
  }
  if (action === 'down') {
    const existed = await cluster.stopCluster(opts.name);
    line(stderr, existed ? `[cluster ${opts.name}] down` : `[cluster ${opts.name}] no such cluster`);
    return EXIT_CODES.ok;
  }
  const st = await cluster.clusterStatus(opts.name);
  if (opts.json) {
    line(stdout, JSON.stringify(st, null, 2));
  } else if (st.state === 'absent' || !st.info) {
    line(stdout, `cluster ${st.name}: ${st.state} (state directory ${st.stateDir})`);
  } else {
    const info = st.info;
    line(stdout, `cluster ${st.name}: ${st.state}`);
    line(stdout, `  api server   ${info.apiServerUrl} (readyz ${st.apiServerReady ? 'ok' : 'failing'})`);
    line(stdout, `  kubeconfig   ${info.kubeconfig}`);
    line(stdout, `  restricted   ${info.restrictedKubeconfig}`);
    line(stdout, `  kubectl      ${info.kubectl}`);
    for (const p of st.processes) {
      line(
        stdout,
        `  ${p.component.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${p.alive ? 'alive' : 'DEAD'}`,
      );
    }
    line(
      stdout,
      `  nodes        ${st.nodes.map((n) => `${n.name}${n.ready ? '' : ' (NotReady)'}`).join(', ') || '(none)'}`,
    );
  }
  return st.state === 'up' ? EXIT_CODES.ok : EXIT_CODES.failed;
}
