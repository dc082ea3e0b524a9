/**
 * Where a function's output lines go. In Lambda, standard output: CloudWatch Logs stores every line
 * in the function's log group and turns the Embedded Metric Format documents among them into
 * metrics. Locally the same lines may go elsewhere (a test's collector, stderr beside a CLI's
 * output), so they are written through a sink rather than straight to the process.
 */
export type LineSink = (line: string) => void;

/** One line on standard output, as Lambda's runtime reads it. */
export const stdoutLines: LineSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/** Lines nobody reads. */
export const discardLines: LineSink = () => {};
