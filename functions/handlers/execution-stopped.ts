import { lambdaHandler } from './aws-runtime.js';
import { eksWorkloads } from './cluster-runtime.js';

/** Lambda entry of the `executionStopped` task: cleanup after a stopped or timed-out execution. */
export const handler = lambdaHandler('executionStopped', eksWorkloads);
