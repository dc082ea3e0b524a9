/**
 * The CLI's side of the answer endpoint: a POST of `{ service, deploymentId, action, reason? }`
 * to the stack's function URL (`--answer-url`, the `--stack`'s runbook output, or the `AnswerUrl`
 * output in $TPS_ANSWER_URL), signed with SigV4 (service `lambda`) with
 * the caller's own AWS credentials (`--profile`, AWS_PROFILE, ...). Lambda verifies the signature
 * and tells the function who signed; the CLI never holds a task token and needs no
 * `states:SendTask*` permission.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { CliContext } from './context.js';
import { CliError, EXIT_CODES } from './io.js';

/** The environment variable that holds the endpoint's URL. */
export const ANSWER_URL_ENV = 'TPS_ANSWER_URL';

/** What the endpoint answered. */
export interface EndpointAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** The region a function URL lives in (`<id>.lambda-url.<region>.on.aws`), else the CLI's region (ctx.region()). */
function regionOf(url: URL, fallback: string | undefined): string {
  const m = /\.lambda-url\.([a-z0-9-]+)\.on\.aws$/.exec(url.hostname);
  const region = m?.[1] ?? fallback;
  if (!region) {
    throw new CliError(
      `cannot tell the region of ${url.origin}: pass --region or set AWS_REGION`,
      EXIT_CODES.usage,
    );
  }
  return region;
}

/**
 * The endpoint's URL, or null when none is configured: `--answer-url`, else the `--stack`'s
 * output, else $TPS_ANSWER_URL. Under `--local`, always null ($TPS_ANSWER_URL is ignored) and
 * `--answer-url` is refused: nothing leaves the machine.
 */
export async function configuredAnswerUrl(ctx: CliContext, explicit?: string): Promise<URL | null> {
  if (ctx.options.local) {
    // The local environment has no answer endpoint; $TPS_ANSWER_URL would name a deployed one.
    if (explicit) {
      throw new CliError(
        '--answer-url: a --local environment has no answer endpoint (start goes to its Step Functions API); drop --answer-url or --local',
        EXIT_CODES.usage,
      );
    }
    return null;
  }
  const raw = explicit ?? (await ctx.runbook())?.answerUrl ?? ctx.env[ANSWER_URL_ENV];
  if (!raw) return null;
  try {
    return new URL(raw);
  } catch {
    throw new CliError(
      `${explicit ? '--answer-url' : ctx.stackName() ? `stack "${ctx.stackName()}"'s answerUrl` : ANSWER_URL_ENV}: "${raw}" is not a URL`,
      EXIT_CODES.usage,
    );
  }
}

/** The endpoint's URL ({@link configuredAnswerUrl}); a CliError naming every way to give one when there is none. */
export async function answerUrl(ctx: CliContext, explicit?: string): Promise<URL> {
  const url = await configuredAnswerUrl(ctx, explicit);
  if (!url) {
    throw new CliError(
      `no answer endpoint: set ${ANSWER_URL_ENV} to the stack's AnswerUrl output, pass --stack <name> (its output names the endpoint) or pass --answer-url; answers go through it so your AWS identity is verified`,
      EXIT_CODES.usage,
    );
  }
  return url;
}

/** POSTs `body` to the endpoint, signed with the caller's credentials. */
export async function postAnswer(
  ctx: CliContext,
  url: URL,
  body: Readonly<Record<string, unknown>>,
): Promise<EndpointAnswer> {
  const payload = JSON.stringify(body);
  const region = regionOf(url, ctx.region());
  const signer = new SignatureV4({
    // The same credentials every other call of this CLI uses (--profile, AWS_PROFILE, SSO, ...).
    credentials: ctx.sfn.config.credentials,
    region,
    service: 'lambda',
    sha256: Sha256,
  });
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname || '/',
    headers: { host: url.host, 'content-type': 'application/json' },
    body: payload,
  });
  const signed = await signer.sign(request);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: signed.headers as Record<string, string>,
      body: payload,
    });
  } catch (error) {
    throw new CliError(
      `the answer endpoint ${url.origin} cannot be reached: ${(error as Error).message}`,
      EXIT_CODES.failed,
      {
        cause: error,
      },
    );
  }
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { error: text.slice(0, 500) };
  }
  return { status: response.status, body: parsed };
}
