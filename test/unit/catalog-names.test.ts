/**
 * The catalog refuses names from which tps-deploy would derive objects Kubernetes cannot hold: the
 * canary Deployment `<deployment>-tps-canary` (and its ReplicaSets), the canary Service
 * `<stableService>-tps-canary` or `canaryService`, the Ingress action annotation key, and Services
 * that are not DNS-1035 labels. Each refusal names the field, the value and the limit.
 */
import { describe, expect, test } from '@jest/globals';
import { type CatalogInput, parseCatalog, type ServiceConfigInput } from '../../functions/domain/config.js';
import { ConfigError } from '../../functions/domain/errors.js';
import { albRouter, serviceInput } from '../helpers/catalogs.js';

function service(extra: Partial<ServiceConfigInput> = {}): ServiceConfigInput {
  return serviceInput({ deployment: 'web', containers: ['web'], router: albRouter(), ...extra });
}

const alb = (router: Record<string, unknown>): Partial<ServiceConfigInput> => ({ router: albRouter(router) });

function refusal(services: CatalogInput['services']): ConfigError {
  try {
    parseCatalog({ services });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected ConfigError, the catalog was accepted');
}

/** The issues of one field, by dotted path. */
function issuesAt(err: ConfigError, path: string): string[] {
  return err.issues.filter((i) => i.path === path).map((i) => i.message);
}

describe('canary names', () => {
  test('canaryService equal to stableService is refused: the release would delete the stable Service', () => {
    const err = refusal({ web: service(alb({ canaryService: 'web' })) });
    expect(issuesAt(err, 'services.web.router.canaryService')).toEqual([
      expect.stringMatching(/must differ from router\.stableService \("web"\)/),
    ]);
    expect(err.message).toContain('services.web.router.canaryService');
  });

  const cases: {
    name: string;
    patch: Partial<ServiceConfigInput>;
    path: string;
    message: RegExp;
  }[] = [
    {
      name: 'a deployment whose canary ReplicaSets would pass 253 characters',
      patch: { deployment: 'd'.repeat(232) },
      path: 'deployment',
      message:
        /^"d{232}" is 232 characters: the canary Deployment "d{232}-tps-canary" and its ReplicaSets \("<canary>-<pod-template-hash>", up to 11 more\) must be DNS-1123 subdomains of at most 253 characters, so at most 231$/,
    },
    {
      name: 'a stable Service whose default canary Service would pass 63 characters',
      patch: alb({ stableService: `s${'v'.repeat(52)}` }),
      path: 'router.stableService',
      message:
        /^"sv{52}" is 53 characters: the canary Service "sv{52}-tps-canary" must be a DNS-1035 label of at most 63 characters, so at most 52 \(or set router\.canaryService\)$/,
    },
    {
      name: 'a canary Service name over 63 characters',
      patch: alb({ canaryService: `c${'x'.repeat(63)}` }),
      path: 'router.canaryService',
      message: /at most 63 characters/,
    },
    {
      name: 'a replica-ratio Service that is not a DNS-1035 label (dotted)',
      patch: { router: { type: 'replica-ratio', service: 'api.v2' } },
      path: 'router.service',
      message: /must be a DNS-1035 label/,
    },
    {
      name: 'a stable Service that starts with a digit',
      patch: alb({ stableService: '1web' }),
      path: 'router.stableService',
      message: /must be a DNS-1035 label/,
    },
    {
      name: 'an action name too long for the annotation key alb.ingress.kubernetes.io/actions.<name>',
      patch: alb({ actionName: 'a'.repeat(56) }),
      path: 'router.actionName',
      message:
        /^"a{56}" is 56 characters: the annotation key alb\.ingress\.kubernetes\.io\/actions\.a{56} has a name part of 64 characters, at most 63, so at most 55$/,
    },
  ];

  test.each(cases)('refused: $name', ({ patch, path, message }) => {
    const err = refusal({ web: service(patch) });
    expect(issuesAt(err, `services.web.${path}`)).toEqual([expect.stringMatching(message)]);
  });

  test('names at the limits are accepted', () => {
    const cat = parseCatalog({
      services: {
        web: service({ deployment: 'd'.repeat(231), ...alb({ stableService: `s${'v'.repeat(51)}` }) }),
        other: service({
          ...alb({
            stableService: `s${'v'.repeat(62)}`,
            canaryService: `c${'x'.repeat(62)}`,
            actionName: 'a'.repeat(55),
          }),
        }),
      },
    });
    expect(Object.keys(cat.services)).toEqual(['web', 'other']);
  });

  test('every bad field of every service is named at once', () => {
    const err = refusal({
      web: service({ namespace: 'Shop', deployment: 'd'.repeat(240), ...alb({ canaryService: 'web' }) }),
      api: service(alb({ stableService: `s${'v'.repeat(60)}` })),
    });
    expect(err.issues.map((i) => i.path).sort()).toEqual([
      'services.api.router.stableService',
      'services.web.deployment',
      'services.web.namespace',
      'services.web.router.canaryService',
    ]);
  });
});
