/**
 * A step interrupted at every point where it writes, then retried (test/helpers/fault-matrix.ts):
 * killed before or after each Kubernetes mutation and table write, or the deployments table taken
 * away (connections reset, through a real HTTP hop) before each of its table requests.
 * Guarantees, for "Shift 10% To Canary", "Clean Up" and "Roll Back", with both routers:
 * - no cluster change the table does not know of (the step's intent or the rollback claim is
 *   written before the change);
 * - the retry reaches the same end state as an uninterrupted run and records the work once;
 * - a rollback afterwards restores the recorded plan exactly.
 */
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import type { ServiceConfigInput } from '../../functions/domain/config.js';
import { CutMatrix, type CutOutcome, type CutStep } from '../helpers/fault-matrix.js';
import { type ReleaseFixture, type RouterKind, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL } from '../helpers/runbook.js';

jest.setTimeout(600_000);

const SERVICE: Partial<ServiceConfigInput> = { approval: false, onCall: ALWAYS_ON_CALL };
const fixtures: ReleaseFixture[] = [];
const matrices: CutMatrix[] = [];
const all: CutOutcome[] = [];

afterAll(async () => {
  for (const m of matrices.splice(0)) await m.close();
  for (const f of fixtures.splice(0)) await f.env.stop();
  const kills = all.filter((o) => o.fault === 'kill').length;
  const outages = all.length - kills;
  const changed = all.filter((o) => o.changedDuringFault).length;
  process.stdout.write(
    `faults-cuts: ${all.length} interrupted runs (${kills} kills, ${outages} table outages), ${changed} left the cluster changed mid-step, ${all.filter((o) => o.problems.length === 0).length} recovered with the change recorded\n`,
  );
});

describe.each(['replica-ratio', 'alb'] as const)('%s router', (router: RouterKind) => {
  test.each(['shift', 'finalize', 'rollback'] as const)(
    '%s interrupted at every write, then retried',
    async (step: CutStep) => {
      const f = await releaseFixture(`cut-${step}`.slice(0, 16), router, { service: SERVICE });
      fixtures.push(f);
      const m = new CutMatrix(f);
      matrices.push(m);
      const outcomes = await m.all(step);
      all.push(...outcomes);
      expect(outcomes.length).toBeGreaterThan(4);
      // At least one cut must land between a change and its completion, or the test proves little.
      expect(outcomes.some((o) => o.changedDuringFault)).toBe(true);
      const bad = outcomes.filter((o) => o.problems.length > 0);
      expect(bad).toEqual([]);
    },
  );
});
