/** The longest release of a service by its settings, and the execution timeout derived from it. */
import { executionTimeoutSeconds, longestReleaseSeconds } from '../../functions/domain/budget.js';
import { type CatalogInput, parseCatalog, type ServiceConfig } from '../../functions/domain/config.js';
import { RUNBOOK } from '../../functions/domain/defaults.js';
import { JOBS, serviceInput } from '../helpers/catalogs.js';

function service(over: Record<string, unknown> = {}): ServiceConfig {
  const input = {
    appName: 'tps-budget',
    services: { api: serviceInput({ metrics: { source: 'synthetic', profile: 'healthy' }, ...over }) },
  } as unknown as CatalogInput;
  return parseCatalog(input).services.api!;
}

// Defaults: approval 3600; snapshot 3600 + migration and its rollback 2 x 1800; canary 300 + 600
// + 600 + hold 3600; staging 300 + 900 + 1200 + 3600; production 300 + 300 + 0 + 3600; the
// hotfix watch 7200 (longer than the standard 3600).
const DEFAULT = 3600 + 7200 + 5100 + 6000 + 4200 + 7200;

describe('longestReleaseSeconds', () => {
  test.each([
    ['runbook defaults', {}, DEFAULT],
    ['no approval', { approval: false }, DEFAULT - 3600],
    ['two-hour holds', { holdTimeoutSeconds: 7200 }, DEFAULT + 3 * 3600],
    [
      'a canary test Job',
      { jobs: JOBS, tests: { canary: { image: 'registry.local/t:1' } } },
      DEFAULT + RUNBOOK.tests.timeoutSeconds,
    ],
    ['a longer staging window', { phases: { staging: { windowSeconds: 1800 } } }, DEFAULT + 900],
    ['a 3 h standard watch', { watchSeconds: 10_800 }, DEFAULT + 3600],
  ])('%s', (_name, over, expected) => {
    expect(longestReleaseSeconds(service(over))).toBe(expected);
  });

  test('the execution timeout adds the margin', () => {
    expect(executionTimeoutSeconds(service())).toBe(DEFAULT + RUNBOOK.executionTimeoutMarginSeconds);
  });
});
