/**
 * The version in the pods: the label value a release's version gets (pure, domain) and the pod
 * template a release writes (the recorded one with the new images, the version label and
 * annotation, and TPS_RELEASE_VERSION from the downward API).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import { releaseTemplate } from '../../functions/adapters/kubernetes/deployment.js';
import {
  K8S_ANNOTATIONS,
  K8S_LABELS,
  RELEASE_VERSION_ENV,
} from '../../functions/adapters/kubernetes/labels.js';
import { versionLabelValue } from '../../functions/domain/k8s-names.js';

const VALID = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

describe('versionLabelValue', () => {
  test.each([
    ['a tag', 'v2', 'v2'],
    ['a semantic version', '1.4.2', '1.4.2'],
    ['a tag with _ and -', 'v2.1.0-rc_1', 'v2.1.0-rc_1'],
    ['a digest version (12 hex)', '3f2a9c0d11ef', '3f2a9c0d11ef'],
    ['63 characters', 'a'.repeat(63), 'a'.repeat(63)],
  ])('keeps %s as it is: %s', (_what, version, want) => {
    expect(versionLabelValue(version)).toBe(want);
  });

  test.each([
    ['ending with -', 'v2-', /^v2-[0-9a-f]{10}$/],
    ['ending with _', 'v2_', /^v2-[0-9a-f]{10}$/],
    ['beginning with _', '_build7', /^build7-[0-9a-f]{10}$/],
    ['longer than 63', `v${'1'.repeat(100)}`, /^v1{51}-[0-9a-f]{10}$/],
  ])('folds a tag %s to a valid value with a digest: %s', (_what, version, want) => {
    const v = versionLabelValue(version);
    expect(v).toMatch(VALID);
    expect(v.length).toBeLessThanOrEqual(63);
    expect(v).toMatch(want);
  });

  test('two tags that fold alike keep different values', () => {
    const a = `${'x'.repeat(70)}1`;
    const b = `${'x'.repeat(70)}2`;
    expect(versionLabelValue(a)).not.toBe(versionLabelValue(b));
    expect(versionLabelValue('v2-')).not.toBe(versionLabelValue('v2_'));
  });
});

describe('releaseTemplate', () => {
  const ENV_FROM_ANNOTATION = {
    name: RELEASE_VERSION_ENV,
    valueFrom: {
      fieldRef: { apiVersion: 'v1', fieldPath: `metadata.annotations['${K8S_ANNOTATIONS.version}']` },
    },
  };
  const recorded = {
    metadata: { labels: { app: 'shop' }, annotations: { 'example.com/owner': 'team-shop' } },
    spec: {
      containers: [
        { name: 'api', image: 'r/api:v1', env: [{ name: 'MODE', value: 'prod' }] },
        { name: 'sidecar', image: 'r/proxy:1.0' },
        { name: 'agent', image: 'r/agent:3' },
      ],
    },
  };
  const target = { images: { api: 'r/api:v2', sidecar: 'r/proxy:1.1' }, version: 'v2' };

  test('sets the images, the version label and annotation, and the env var in the release containers only', () => {
    const t = releaseTemplate(recorded, target);
    expect(t).toEqual({
      metadata: {
        labels: { app: 'shop', [K8S_LABELS.version]: 'v2' },
        annotations: { 'example.com/owner': 'team-shop', [K8S_ANNOTATIONS.version]: 'v2' },
      },
      spec: {
        containers: [
          { name: 'api', image: 'r/api:v2', env: [{ name: 'MODE', value: 'prod' }, ENV_FROM_ANNOTATION] },
          { name: 'sidecar', image: 'r/proxy:1.1', env: [ENV_FROM_ANNOTATION] },
          { name: 'agent', image: 'r/agent:3' },
        ],
      },
    });
    // The recorded template is not changed.
    expect(recorded.metadata.labels).toEqual({ app: 'shop' });
    expect(recorded.spec.containers[0]!.env).toEqual([{ name: 'MODE', value: 'prod' }]);
  });

  test('over a template an earlier release wrote: the version is replaced in place, nothing added twice', () => {
    const earlier = releaseTemplate(recorded, target);
    const next = releaseTemplate(earlier, { images: { api: 'r/api:v3' }, version: 'v3' });
    expect(next.metadata).toEqual({
      labels: { app: 'shop', [K8S_LABELS.version]: 'v3' },
      annotations: { 'example.com/owner': 'team-shop', [K8S_ANNOTATIONS.version]: 'v3' },
    });
    const containers = (next.spec as { containers: { env?: unknown[] }[] }).containers;
    expect(containers[0]!.env).toEqual([{ name: 'MODE', value: 'prod' }, ENV_FROM_ANNOTATION]);
    expect(containers[1]!.env).toEqual([ENV_FROM_ANNOTATION]);
    expect(releaseTemplate(next, { images: { api: 'r/api:v3' }, version: 'v3' })).toEqual(next);
  });

  test("a person's own TPS_RELEASE_VERSION value is replaced where it is, not duplicated", () => {
    const own = structuredClone(recorded);
    own.spec.containers[0]!.env = [
      { name: RELEASE_VERSION_ENV, value: 'typed-by-hand' },
      { name: 'MODE', value: 'prod' },
    ];
    const t = releaseTemplate(own, target);
    expect((t.spec as { containers: { env?: unknown[] }[] }).containers[0]!.env).toEqual([
      ENV_FROM_ANNOTATION,
      { name: 'MODE', value: 'prod' },
    ]);
  });

  test('a version that is not a label value: the label is folded, the annotation (and so the env var) is exact', () => {
    const t = releaseTemplate(recorded, { images: { api: 'r/api:v2_' }, version: 'v2_' });
    const meta = t.metadata as { labels: Record<string, string>; annotations: Record<string, string> };
    expect(meta.labels[K8S_LABELS.version]).toMatch(/^v2-[0-9a-f]{10}$/);
    expect(meta.annotations[K8S_ANNOTATIONS.version]).toBe('v2_');
  });
});

describe('docs/onboarding.md, "Tagging metrics with the version"', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/onboarding.md', import.meta.url)), 'utf8');
  const section = doc.split('\n## ').find((s) => s.startsWith('Tagging metrics with the version'));
  if (!section) throw new Error('docs/onboarding.md has no "## Tagging metrics with the version"');

  // The section's metric-publishing examples run in test/unit/emf-examples.test.ts.
  test('names the label, annotation, env var and downward API field tps-deploy writes', () => {
    expect(section).toContain(`\`${K8S_LABELS.version}: <version>\``);
    expect(section).toContain(`\`${RELEASE_VERSION_ENV}\``);
    expect(section).toContain(`fieldPath: metadata.annotations['${K8S_ANNOTATIONS.version}']`);
  });
});
