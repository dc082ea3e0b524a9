/**
 * What a CLI run reads and writes, injectable so tests call {@link run} in-process: the output
 * streams, the environment, the AWS clients, the catalog, the clock and sleep.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { STSClient } from '@aws-sdk/client-sts';
import type { CatalogInput } from '../functions/domain/config.js';
import { ERROR_NAMES, TpsError } from '../functions/domain/errors.js';

/** A stream the CLI writes to (process.stdout, or a collecting stand-in in tests). */
export interface OutStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** The AWS SDK clients the CLI talks to. */
export interface AwsClients {
  readonly sfn: SFNClient;
  readonly dynamodb: DynamoDBClient;
  readonly eks: EKSClient;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
  /** DescribeStacks: the runbook's `TpsDeployRunbook` output (`--stack`). */
  readonly cloudformation: CloudFormationClient;
  /** GetCallerIdentity (`doctor`). */
  readonly sts: STSClient;
}

/** Everything a CLI run touches outside itself. Every field but the streams is optional. */
export interface CliIo {
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** The directory `./tps.config.ts` is looked for in. @default process.cwd() */
  readonly cwd?: string;
  /** Clients to use instead of building them from `--region`/`--profile` (tests). */
  readonly clients?: Partial<AwsClients>;
  /** The catalog to use instead of loading `--config` / tps.config.ts (tests). */
  readonly catalog?: CatalogInput;
  /** @default real time */
  readonly now?: () => Date;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Exit codes of every command. `start --follow` and `local` exit with the outcome of the release,
 * so a pipeline step can tell a rollback from a broken tool.
 */
export const EXIT_CODES = {
  /** The command did what was asked; a followed or local release SUCCEEDED. */
  ok: 0,
  /** An error: AWS or cluster unreachable, record not found, or a release that FAILED. */
  failed: 1,
  /** Bad usage: unknown command or flag, a missing or bad flag value, or an invalid release input. */
  usage: 2,
  /** The release was ROLLED_BACK. */
  rolledBack: 3,
  /** The release was REJECTED (approval refused or timed out). */
  rejected: 4,
  /** Rolling back itself failed: the service needs a person now. */
  rollbackFailed: 5,
  /** The execution was stopped (ABORTED) or TIMED_OUT without a recorded outcome. */
  aborted: 6,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** An error the CLI reports as one line on stderr, exiting with `exitCode`. */
export class CliError extends TpsError {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT_CODES.failed,
    options?: { cause?: unknown },
  ) {
    super(ERROR_NAMES.cli, message, options);
  }
}

/** Writes one line. */
export function line(out: OutStream, text = ''): void {
  out.write(`${text}\n`);
}

/** The default I/O: the process's streams and environment, real clients built on demand. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

export const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
