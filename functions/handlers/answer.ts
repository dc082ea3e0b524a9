import { answerHandler, awsAnswerPorts } from './answer-runtime.js';

/** Lambda entry of the answer endpoint (function URL, AWS_IAM): approve, reject, promote, abort as the verified caller. */
export const handler = answerHandler(awsAnswerPorts);
