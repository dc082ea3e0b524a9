import type { Config } from 'jest';

/**
 * One Jest run covers unit, infra (CDK template) and integration tests. The integration tests
 * share one local control plane that the global setup starts and the global teardown stops.
 * ESM-only dependencies (@kubernetes/client-node) load because the test script runs Node 24 with
 * --experimental-vm-modules.
 */
const config: Config = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 120_000,
  maxWorkers: 2,
  testSequencer: '<rootDir>/test/sequencer.mjs',
};

export default config;
