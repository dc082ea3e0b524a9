/**
 * Who changed a Deployment's count, from managedFields (functions/adapters/kubernetes/field-owners.ts):
 * an autoscaler's count and tps-deploy's own are never a person's edit.
 */
import { describe, expect, test } from '@jest/globals';
import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';
import {
  type FieldWriter,
  isAutoscaler,
  replicasDrift,
  replicasOwner,
} from '../../functions/adapters/kubernetes/field-owners.js';

const writer = (manager: string, subresource: string | null = null): FieldWriter => ({
  manager,
  operation: 'Update',
  subresource,
  time: '2026-12-05T10:00:00.000Z',
});
const HPA = writer('kube-controller-manager', 'scale');
const US = writer('tps-deploy');
const PERSON = writer('kubectl-scale', 'scale');

describe('replicasOwner and isAutoscaler', () => {
  const entry = (manager: string, fields: object, subresource?: string): V1ManagedFieldsEntry => ({
    manager,
    operation: 'Update',
    fieldsType: 'FieldsV1',
    fieldsV1: fields,
    ...(subresource ? { subresource } : {}),
  });
  test('the entry owning spec.replicas is the owner; others are not', () => {
    const entries = [
      entry('kubectl-edit', { 'f:spec': { 'f:template': {} } }),
      entry('kube-controller-manager', { 'f:spec': { 'f:replicas': {} } }, 'scale'),
    ];
    expect(replicasOwner(entries)).toMatchObject({
      manager: 'kube-controller-manager',
      subresource: 'scale',
    });
    expect(isAutoscaler(replicasOwner(entries))).toBe(true);
    expect(replicasOwner([entries[0]!])).toBeNull();
  });
  test('a person scaling through the scale subresource is not an autoscaler', () => {
    expect(isAutoscaler(PERSON)).toBe(false);
    expect(isAutoscaler(writer('kube-controller-manager'))).toBe(false);
  });
});

describe('replicasDrift', () => {
  test.each([
    // expected, recorded, marker, live, owner -> drift, byOthers
    ['recorded', 4, undefined, 4, US, false, false],
    ['recorded', 4, '2', 2, US, false, false],
    ['recorded', 4, '2', 3, PERSON, true, true],
    ['recorded', 4, undefined, 7, HPA, false, false],
    ['recorded', 4, undefined, 6, PERSON, true, true],
    ['recorded', 4, undefined, 6, US, true, false],
    // After Clean Up: a count Clean Up wrote (more than recorded, the pods serving with an HPA)
    // is the release's, not a person's.
    ['finalized', 4, undefined, 8, US, false, false],
    ['finalized', 4, undefined, 8, HPA, false, false],
    ['finalized', 4, undefined, 6, PERSON, true, true],
    ['finalized', 4, undefined, 4, PERSON, false, false],
  ] as const)(
    '%s, recorded %i, marker %s, live %i, owner %o -> drift %s, by others %s',
    (expected, recorded, marker, live, owner, drift, byOthers) => {
      expect(replicasDrift({ expected, recorded, marker, live, owner })).toMatchObject({ drift, byOthers });
    },
  );
});
