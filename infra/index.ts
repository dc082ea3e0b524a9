/**
 * The tps-deploy package's library entry (`import { ReleaseRunbook, defineCatalog } from 'tps-deploy'`):
 * the ReleaseRunbook construct and its props, the catalog helper and types, and the contract of
 * the runbook's stack output. Built into dist/lib by scripts/build-package.ts.
 */

export {
  parseRunbookOutput,
  RUNBOOK_OUTPUT_KEY,
  RUNBOOK_OUTPUT_SCHEMA,
  type RunbookOutput,
} from '../functions/contract/runbook-output.js';
export {
  type Catalog,
  type CatalogInput,
  defineCatalog,
  parseCatalog,
  type ServiceConfig,
  type ServiceConfigInput,
} from '../functions/domain/config.js';
export { ConfigError, type FieldIssue } from '../functions/domain/errors.js';
export type { FunctionCodeSource } from './constructs/function-code.js';
export type { RollbackTriggers } from './constructs/service-alarms.js';
export type { EndpointAccess, ReleaseNetwork } from './constructs/task-network.js';
export { ReleaseRunbook, type ReleaseRunbookProps } from './release-runbook.js';
