/**
 * The contract between a deployed runbook and the tools that find it: the one CloudFormation
 * output (`TpsDeployRunbook`) the ReleaseRunbook construct writes, which the CLI (`--stack`) and
 * `tps-deploy doctor` read with DescribeStacks instead of needing the repository's catalog file.
 *
 * The construct writes the value with `Stack.toJsonString`, so ARNs and names are resolved by
 * CloudFormation at deploy time; the readers parse it with {@link parseRunbookOutput}, which names
 * every field that does not fit (an output of another tool or of a newer schema is refused, not guessed).
 */
import { z } from 'zod';

/** Logical ID of the output; one ReleaseRunbook per stack writes it. */
export const RUNBOOK_OUTPUT_KEY = 'TpsDeployRunbook';

/** Version of the value's shape; a reader refuses any other. */
export const RUNBOOK_OUTPUT_SCHEMA = 1;

const runbookOutputSchema = z
  .object({
    schema: z.literal(RUNBOOK_OUTPUT_SCHEMA),
    /** The catalog's appName (state machines are `<appName>-<service>`). */
    appName: z.string().min(1),
    /** Region of the stack (its state machines, table, topic and answer endpoint). */
    region: z.string().min(1),
    /** The deployments table. */
    tableName: z.string().min(1),
    /** The notifications topic. */
    topicArn: z.string().min(1),
    /** The verified answer endpoint (function URL, AWS_IAM). */
    answerUrl: z.string().min(1),
    /** Release state machine of each catalog service. */
    stateMachines: z.record(z.string(), z.string().min(1)),
    /** CloudWatch dashboard of each catalog service. */
    dashboards: z.record(z.string(), z.string().min(1)),
    /** The roles of the functions that act on the clusters and the Kubernetes groups each is mapped to. */
    clusterAccess: z.array(
      z
        .object({
          task: z.string().min(1),
          roleArn: z.string().min(1),
          kubernetesGroups: z.array(z.string()),
        })
        .strict(),
    ),
    /** How the cluster functions reach the clusters' API endpoint (the construct's `network`). */
    network: z
      .object({
        endpointAccess: z.enum(['public', 'public-and-private', 'private']),
        securityGroupIds: z.array(z.string()),
        subnetIds: z.array(z.string()),
      })
      .strict(),
    /** The parsed catalog the functions run with (JSON of `parseCatalog`'s result). */
    catalog: z.record(z.string(), z.unknown()),
  })
  .strict();

/** The value of the `TpsDeployRunbook` output. */
export type RunbookOutput = z.output<typeof runbookOutputSchema>;

/**
 * Parses the output's value (a JSON string). Throws an Error naming every bad field, or saying the
 * value is not JSON.
 */
export function parseRunbookOutput(value: string): RunbookOutput {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch (error) {
    throw new Error(`${RUNBOOK_OUTPUT_KEY} is not JSON: ${(error as Error).message}`);
  }
  const parsed = runbookOutputSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`);
    throw new Error(
      `${RUNBOOK_OUTPUT_KEY} does not fit schema ${RUNBOOK_OUTPUT_SCHEMA}: ${issues.join('; ')}`,
    );
  }
  return parsed.data;
}
