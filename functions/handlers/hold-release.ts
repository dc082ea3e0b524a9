import { lambdaHandler } from './aws-runtime.js';

/** Lambda entry of the `holdRelease` task: the step code in functions/release with the AWS adapters. */
export const handler = lambdaHandler('holdRelease');
