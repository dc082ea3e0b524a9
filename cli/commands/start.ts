/**
 * `tps-deploy start`: validates the release input like the state machine does, then starts it:
 * through the answer endpoint when one is configured (`--answer-url`, the `--stack`'s, TPS_ANSWER_URL: a signed
 * request, so the record names the requester's verified ARN), else with StartExecution (the
 * requester is then the name given, unverified).
 */
import { readFileSync } from 'node:fs';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { InvalidInputError } from '../../functions/domain/errors.js';
import { parseExecutionInput } from '../../functions/domain/input.js';
import { configuredAnswerUrl, postAnswer } from '../answer-client.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT_CODES, type ExitCode, line } from '../io.js';
import { linkLines } from '../links.js';
import { followRelease, releaseJson } from './follow.js';

export interface StartOptions {
  readonly service: string;
  readonly image?: string;
  readonly images?: string;
  readonly hotfix?: boolean;
  readonly requestedBy?: string;
  readonly changeRef?: string;
  readonly inputFile?: string;
  readonly testsPassed?: boolean;
  readonly reviewers?: string;
  readonly riskAcknowledgement?: string;
  readonly name?: string;
  readonly follow?: boolean;
  readonly pollInterval?: number;
  readonly stateMachineArn?: string;
  readonly json?: boolean;
  readonly answerUrl?: string;
}

/** `c=img,c2=img2` as a record; a clear error names a malformed pair. */
export function parseImages(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) {
      throw new CliError(
        `--images: "${pair}" is not <container>=<image>; e.g. --images api=repo/api:v2,sidecar=repo/envoy:v1.30`,
        EXIT_CODES.usage,
      );
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** The execution input the flags describe (over `--input-file`, whose fields they override). */
export function buildInput(opts: StartOptions, who: string): Record<string, unknown> {
  let base: Record<string, unknown> = {};
  if (opts.inputFile) {
    try {
      base = JSON.parse(readFileSync(opts.inputFile, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new CliError(
        `--input-file: cannot read ${opts.inputFile}: ${(error as Error).message}`,
        EXIT_CODES.usage,
      );
    }
    if (base === null || typeof base !== 'object' || Array.isArray(base)) {
      throw new CliError(`--input-file: ${opts.inputFile} must hold a JSON object`, EXIT_CODES.usage);
    }
  }
  const input: Record<string, unknown> = { ...base, service: opts.service };
  if (opts.image !== undefined) input.image = opts.image;
  if (opts.images !== undefined) input.images = parseImages(opts.images);
  if (opts.hotfix) input.mode = 'hotfix';
  input.requestedBy = opts.requestedBy ?? base.requestedBy ?? who;
  if (opts.changeRef !== undefined) input.changeRef = opts.changeRef;
  const attestations: Record<string, unknown> = {
    ...((base.attestations as Record<string, unknown> | undefined) ?? {}),
  };
  if (opts.testsPassed) attestations.testsPassed = true;
  if (opts.reviewers !== undefined) {
    attestations.reviewers = opts.reviewers
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean);
  }
  if (opts.riskAcknowledgement !== undefined) attestations.riskAcknowledgement = opts.riskAcknowledgement;
  if (Object.keys(attestations).length > 0) input.attestations = attestations;
  return input;
}

export async function startCommand(ctx: CliContext, opts: StartOptions): Promise<ExitCode> {
  const catalog = await ctx.catalog();
  await ctx.requireSameAsStack(opts.service);
  const input = buildInput(opts, ctx.who());
  // The same check the state machine's first state runs: a bad input never starts an execution.
  try {
    parseExecutionInput(input, catalog, 'cli-validation');
  } catch (error) {
    if (error instanceof InvalidInputError) {
      throw new CliError(`${error.message} (nothing was started)`, EXIT_CODES.usage);
    }
    throw error;
  }
  let started: { executionArn?: string; startDate?: Date };
  const endpoint = await configuredAnswerUrl(ctx, opts.answerUrl);
  if (endpoint) {
    const r = await postAnswer(ctx, endpoint, {
      action: 'start',
      input,
      ...(opts.name ? { name: opts.name } : {}),
    });
    if (r.status !== 200) {
      throw new CliError(
        `start refused (HTTP ${r.status}): ${String(r.body.error ?? r.body.Message ?? 'no reason given')} (nothing was started)`,
        EXIT_CODES.failed,
      );
    }
    line(ctx.io.stderr, `requested by ${String(r.body.principal)} (verified)`);
    started = { executionArn: String(r.body.executionArn) };
  } else {
    const stateMachineArn = opts.stateMachineArn ?? (await ctx.stateMachineArn(opts.service));
    started = await ctx.aws('StartExecution', () =>
      ctx.sfn.send(
        new StartExecutionCommand({
          stateMachineArn,
          input: JSON.stringify(input),
          ...(opts.name ? { name: opts.name } : {}),
        }),
      ),
    );
  }
  const executionArn = started.executionArn;
  if (!executionArn) throw new CliError('StartExecution returned no executionArn');
  const deploymentId = executionArn.split(':').at(-1)!;
  const { stdout, stderr } = ctx.io;
  const links = await ctx.links(executionArn, opts.service);
  if (opts.json && !opts.follow) {
    line(
      stdout,
      JSON.stringify({
        executionArn,
        deploymentId,
        startDate: started.startDate?.toISOString() ?? null,
        links,
      }),
    );
    return EXIT_CODES.ok;
  }
  // Following: the header on stderr, the progress on stdout (on stderr too with --json, whose
  // stdout is the one JSON summary at the end).
  const header = opts.follow ? stderr : stdout;
  line(header, `started ${deploymentId}`);
  line(header, `  execution ${executionArn}`);
  for (const l of linkLines(links)) line(header, l);
  if (!opts.follow) {
    line(stdout, `  follow it: tps-deploy watch ${deploymentId} (or tps-deploy status ${deploymentId})`);
    return EXIT_CODES.ok;
  }
  const result = await followRelease(ctx, {
    executionArn,
    service: opts.service,
    deploymentId,
    pollMs: (opts.pollInterval ?? 5) * 1000,
    out: opts.json ? stderr : stdout,
  });
  if (opts.json)
    line(stdout, JSON.stringify(releaseJson(opts.service, deploymentId, executionArn, result, links)));
  return result.exitCode;
}
