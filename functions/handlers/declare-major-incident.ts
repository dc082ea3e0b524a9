import { lambdaHandler } from './aws-runtime.js';

/** Lambda entry of the `declareMajorIncident` task: the step code in functions/release with the AWS adapters. */
export const handler = lambdaHandler('declareMajorIncident');
