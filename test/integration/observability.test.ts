/**
 * What the functions write while releases run through the synthesized state machine: the output
 * of every invocation (the Powertools Logger's JSON lines and the release metrics' Embedded Metric
 * Format documents, the lines Lambda would write to CloudWatch Logs), collected through the local
 * environment's function output. Two releases: one promoted, one rolled back at the canary by the
 * state machine, then cleaned up by the execution-status function (its execution FAILED). No task
 * throws in these runs (a crash is a verdict, not an error); a failure's log line, with its stack,
 * is checked in test/unit/invoke.test.ts.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import { RELEASE_METRICS, releaseEnded } from '../../functions/domain/release-metrics.js';
import { deleteNamespace } from '../helpers/k8s.js';
import { type ReleaseFixture, releaseFixture } from '../helpers/release.js';
import { ALWAYS_ON_CALL, ATTESTED, NEW_IMAGES } from '../helpers/runbook.js';

jest.setTimeout(240_000);

type Json = Record<string, unknown>;
interface Emf {
  readonly _aws: {
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

const { names, namespace } = RELEASE_METRICS;
/** Every line the functions wrote, in order. */
const lines: string[] = [];
/** Anything written around the function output, straight to the process (there should be nothing). */
const direct: string[] = [];
let f: ReleaseFixture;
let released: DeploymentRecord;
let rolledBack: DeploymentRecord;

beforeAll(async () => {
  f = await releaseFixture('obs', 'replica-ratio', {
    service: { approval: false, onCall: ALWAYS_ON_CALL },
    env: { functionOutput: (line) => lines.push(line) },
  });
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  const tap =
    (orig: typeof origOut) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      direct.push(String(chunk));
      return (orig as (...a: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = tap(origOut) as typeof process.stdout.write;
  process.stderr.write = tap(origErr) as typeof process.stderr.write;
  try {
    const ok = await f.env.run({ ...ATTESTED, service: 'shop', images: NEW_IMAGES, requestedBy: 'obs' });
    const crash = await f.env.run({
      ...ATTESTED,
      service: 'shop',
      images: { ...NEW_IMAGES, api: 'registry.local/shop/api:v2-crash' },
      requestedBy: 'obs',
    });
    expect([ok.status, crash.status]).toEqual(['SUCCEEDED', 'FAILED']);
    released = ok.record!;
    rolledBack = crash.record!;
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
});

afterAll(async () => {
  await f?.env.stop();
  if (f) await deleteNamespace(f.app.namespace);
});

const parsed = () => lines.map((l) => JSON.parse(l) as Json);
const logLines = () => parsed().filter((l) => !('_aws' in l));
const emfDocs = () => parsed().filter((l): l is Emf => '_aws' in l);
/** The EMF documents of one deployment that carry `metric`. */
const docsWith = (deploymentId: string, metric: string) =>
  emfDocs().filter(
    (d) =>
      d.deploymentId === deploymentId &&
      d._aws.CloudWatchMetrics.some((m) => m.Metrics.some((x) => x.Name === metric)),
  );

describe('the functions output of a released and a rolled-back release', () => {
  test('the releases ended as expected, and nothing went to the process around the function output', () => {
    expect(released.outcome).toBe('SUCCEEDED');
    expect(rolledBack.outcome).toBe('ROLLED_BACK');
    expect(rolledBack.rollback).toMatchObject({ trigger: 'state-machine', phase: 'canary' });
    expect(direct.join('')).toBe('');
  });

  test('every line is JSON carrying the release: service and deploymentId', () => {
    expect(lines.length).toBeGreaterThan(20);
    const ids = new Set([released.deploymentId, rolledBack.deploymentId]);
    for (const line of lines) {
      const l = JSON.parse(line) as Json;
      expect({ line, service: l.service }).toEqual({ line, service: 'shop' });
      expect({ line, known: ids.has(l.deploymentId as string) }).toEqual({ line, known: true });
    }
  });

  test('every log line carries the Lambda context, the app and the task; phases where the task has one', () => {
    const logs = logLines();
    for (const l of logs) {
      expect(l).toEqual(
        expect.objectContaining({
          level: expect.stringMatching(/^(INFO|ERROR)$/),
          message: expect.stringMatching(/^task (done|failed)$/),
          app: 'tps-test',
          cold_start: false,
          function_name: expect.stringMatching(/^Tasks/),
          function_request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
          function_arn: expect.stringMatching(/^arn:aws:lambda:/),
          function_memory_size: expect.stringMatching(/^\d+$/),
          task: expect.any(String),
          durationMs: expect.any(Number),
        }),
      );
    }
    // One request ID per invocation.
    const ids = logs.map((l) => l.function_request_id);
    expect(new Set(ids).size).toBe(ids.length);
    const tasks = new Set(logs.map((l) => l.task));
    for (const t of [
      'validateInput',
      'checkGates',
      'beginRelease',
      'shiftTraffic',
      'checkReadiness',
      'validateWindow',
      'finalize',
      'completeRelease',
      'rollBack',
      'executionStopped',
    ]) {
      expect(tasks).toContain(t);
    }
    for (const l of logs.filter((x) => x.task === 'shiftTraffic' || x.task === 'validateWindow')) {
      expect(['canary', 'staging', 'production']).toContain(l.phase);
    }
    // The cleanup of the FAILED execution found the rollback recorded and did nothing more.
    expect(logs.find((l) => l.task === 'executionStopped')).toMatchObject({
      deploymentId: rolledBack.deploymentId,
      level: 'INFO',
    });
  });

  test('EMF: releases started and succeeded, once each, with the service dimension', () => {
    const id = released.deploymentId;
    const started = docsWith(id, names.started);
    expect(started).toHaveLength(1);
    expect(started[0]!._aws.CloudWatchMetrics).toEqual([
      { Namespace: namespace, Dimensions: [['service']], Metrics: [{ Name: names.started, Unit: 'Count' }] },
    ]);
    expect(started[0]![names.started]).toBe(1);
    const succeeded = docsWith(id, names.succeeded);
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0]![names.succeeded]).toBe(1);
    const duration = docsWith(id, names.duration);
    expect(duration.map((d) => d.outcome)).toEqual(['SUCCEEDED']);
    expect(duration[0]![names.duration]).toBeCloseTo(
      (releaseEnded(released) as { durationSeconds: number }).durationSeconds,
      0,
    );
    expect(docsWith(id, names.rolledBack)).toEqual([]);
  });

  test('EMF: the rollback counted once (by service, and by phase and trigger) with its time to detect', () => {
    const id = rolledBack.deploymentId;
    expect(docsWith(id, names.started)).toHaveLength(1);
    expect(docsWith(id, names.succeeded)).toEqual([]);
    const docs = docsWith(id, names.rolledBack);
    expect(docs.map((d) => d._aws.CloudWatchMetrics[0]!.Dimensions)).toEqual([
      [['service']],
      [['service', 'phase', 'trigger']],
    ]);
    const expected = releaseEnded(rolledBack) as {
      timeToDetectSeconds: number;
      timeToRollBackSeconds: number;
    };
    expect(expected.timeToDetectSeconds).toBeGreaterThan(0);
    for (const d of docs) {
      expect(d[names.rolledBack]).toBe(1);
      expect(d[names.timeToDetect]).toBeCloseTo(expected.timeToDetectSeconds, 1);
      expect(d[names.timeToRollBack]).toBeCloseTo(expected.timeToRollBackSeconds, 1);
    }
    expect(docs[1]).toMatchObject({ phase: 'canary', trigger: 'state-machine' });
  });
});
