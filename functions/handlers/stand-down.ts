import { lambdaHandler } from './aws-runtime.js';
import { eksWorkloads } from './cluster-runtime.js';

/** Lambda entry of the `standDown` task: the step code in functions/release with the AWS adapters. */
export const handler = lambdaHandler('standDown', eksWorkloads);
