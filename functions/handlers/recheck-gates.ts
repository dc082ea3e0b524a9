import { lambdaHandler } from './aws-runtime.js';

/** Lambda entry of the `recheckGates` task: the step code in functions/release with the AWS adapters. */
export const handler = lambdaHandler('recheckGates');
