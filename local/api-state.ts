/**
 * The state file of a running local environment: where its Step Functions API and its DynamoDB
 * listen, its table, its state machines and its catalog. `tps-deploy local` writes it while its
 * environment runs and removes it at the end; the CLI's `--local` reads it and points its SDK
 * clients there. One file per path: `$TPS_LOCAL_STATE`, else `tps-deploy-local.json` in the OS
 * temp directory. Light on purpose (no SDK, no CDK): the CLI imports it for every command.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { type CatalogInput, toFieldIssues } from '../functions/domain/config.js';

/** The environment variable naming the state file. */
export const LOCAL_STATE_ENV = 'TPS_LOCAL_STATE';
/** The region the SDK clients are given for the local endpoints (the local ARNs say `local`). */
export const LOCAL_API_REGION = 'us-east-1';
/** The credentials the SDK clients sign local requests with: nothing checks them. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

const stateSchema = z
  .object({
    version: z.literal(1),
    pid: z.number().int().positive(),
    region: z.string().min(1),
    endpoints: z.object({
      stepFunctions: z.string().regex(/^http:\/\/127\.0\.0\.1:\d+$/, 'an http://127.0.0.1:<port> URL'),
      dynamodb: z.string().regex(/^http:\/\/127\.0\.0\.1:\d+$/, 'an http://127.0.0.1:<port> URL'),
    }),
    tableName: z.string().min(3),
    /** service -> state machine ARN. */
    stateMachines: z.record(z.string(), z.string().startsWith('arn:')),
    /** The catalog as given to the environment (parseCatalog checks it where it is used). */
    catalog: z.record(z.string(), z.unknown()),
  })
  .strict();

/** What the state file holds. */
export interface LocalApiState {
  readonly version: 1;
  /** The process that serves the endpoints. */
  readonly pid: number;
  readonly region: string;
  readonly endpoints: { readonly stepFunctions: string; readonly dynamodb: string };
  readonly tableName: string;
  readonly stateMachines: Readonly<Record<string, string>>;
  readonly catalog: CatalogInput;
}

/** The state file's path: `$TPS_LOCAL_STATE`, else `tps-deploy-local.json` in the OS temp directory. */
export function localStatePath(env: NodeJS.ProcessEnv = process.env): string {
  return env[LOCAL_STATE_ENV] || join(tmpdir(), 'tps-deploy-local.json');
}

/** Writes the state file whole (a reader never sees half of it), readable by its owner only. */
export function writeLocalState(path: string, state: LocalApiState): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Removes the state file if it still names `pid` (another environment may have replaced it). */
export function removeLocalState(path: string, pid: number): boolean {
  const found = readLocalState(path, { checkPid: false });
  if (!found.ok || found.state.pid !== pid) return false;
  rmSync(path, { force: true });
  return true;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Reads and checks the state file. Not ok, with what is wrong in words: no file, not JSON, every
 * bad field, or (unless `checkPid` is false) a process that is no longer running.
 */
export function readLocalState(
  path: string,
  opts: { checkPid?: boolean } = {},
): { ok: true; state: LocalApiState } | { ok: false; problem: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return {
        ok: false,
        problem: `no local environment is running: no state file at ${path} (tps-deploy local writes it while its release runs; ${LOCAL_STATE_ENV} names another file)`,
      };
    }
    return { ok: false, problem: `cannot read the local state file ${path}: ${(error as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `the local state file ${path} is not JSON: ${(error as Error).message}` };
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error).map((i) => `${i.path || '(file)'}: ${i.message}`);
    return { ok: false, problem: `the local state file ${path} is not valid: ${issues.join('; ')}` };
  }
  const state = parsed.data as LocalApiState;
  if (opts.checkPid !== false && !alive(state.pid)) {
    return {
      ok: false,
      problem: `the local environment of ${path} is gone: its process ${state.pid} is not running (start one with tps-deploy local)`,
    };
  }
  return { ok: true, state };
}
