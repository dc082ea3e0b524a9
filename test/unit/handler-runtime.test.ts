/**
 * Only the task functions that act on the cluster bundle @kubernetes/client-node: each handler
 * names its runtime, and the bundles of the others must not contain the Kubernetes client.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { build } from 'esbuild';
import { CLUSTER_TASKS, TASK_KEYS, TASKS } from '../../functions/contract/tasks.js';

const source = (task: (typeof TASK_KEYS)[number]) => readFileSync(TASKS[task].entry, 'utf8');

describe('handler runtimes', () => {
  test.each(TASK_KEYS)('%s uses cluster access exactly when it is a cluster task', (task) => {
    const usesCluster = source(task).includes(`lambdaHandler('${task}', eksWorkloads)`);
    expect(usesCluster).toBe(CLUSTER_TASKS.includes(task));
    expect(source(task)).toContain(`lambdaHandler('${task}'`);
  });

  test('a non-cluster function bundles without the Kubernetes client, a cluster one with it', async () => {
    const bundle = async (task: (typeof TASK_KEYS)[number]) => {
      const r = await build({
        entryPoints: [TASKS[task].entry],
        bundle: true,
        platform: 'node',
        format: 'esm',
        write: false,
        metafile: true,
        logLevel: 'silent',
      });
      return Object.keys(r.metafile.inputs).filter((i) => i.includes('@kubernetes/client-node')).length;
    };
    expect(await bundle('completeRelease')).toBe(0);
    expect(await bundle('shiftTraffic')).toBeGreaterThan(0);
  });
});
