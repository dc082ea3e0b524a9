/**
 * Where the CLI's catalog comes from: `--config`, else ./tps.config.ts, else (only inside this
 * repository) the repository's own, else `--stack`. Outside the repository with none of them an
 * AWS-facing command refuses, naming both ways, before any AWS call: it never falls back to the
 * repository's sample catalog and table without saying so.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { defaultConfigPath } from '../../cli/context.js';
import { localDynamoClient } from '../helpers/dynalite.js';
import { cli, testClients } from './cli-harness.js';

const sfn = mockClient(SFNClient);
/** Every command the CLI's DynamoDB client sent (its documents go through the client's own stack). */
const tableCalls: string[] = [];
const dynamodb = localDynamoClient('http://127.0.0.1:1', 1);
dynamodb.middlewareStack.add(
  (next, context) => async (args) => {
    tableCalls.push(String(context.commandName));
    return next(args);
  },
  { step: 'initialize', name: 'recordTableCalls' },
);

let outside: string;
beforeAll(async () => {
  outside = await mkdtemp(join(tmpdir(), 'cli-outside-'));
});
afterAll(async () => {
  await rm(outside, { recursive: true, force: true });
});
beforeEach(() => {
  sfn.reset();
  tableCalls.length = 0;
});

const REFUSAL =
  /no service catalog: pass --config <file> \(your tps\.config\.ts\) or --stack <name> \(a deployed tps-deploy stack, or set TPS_STACK\); there is no tps\.config\.ts in .*cli-outside-/;

describe('outside the repository, with no --config, no ./tps.config.ts and no --stack', () => {
  it('the default catalog path is none (not the repository sample)', () => {
    expect(defaultConfigPath(outside)).toBeNull();
    expect(defaultConfigPath(process.cwd())).toBe(join(process.cwd(), 'tps.config.ts'));
    expect(defaultConfigPath(join(process.cwd(), 'docs'))).toBe(join(process.cwd(), 'tps.config.ts'));
  });

  it.each([
    [['history', '--service', 'api']],
    [['list']],
    [['status', 'd-1']],
    [['watch', 'd-1']],
    [['start', '--service', 'api', '--image', 'repo/api:v2']],
    [['abort', 'd-1', '--service', 'api', '--table', 'some-table']],
    [['rollback', '--service', 'api']],
    [['unlock', '--service', 'api']],
    [['approve', 'd-1']],
    [['report', 'd-1']],
  ])('%j refuses naming --config and --stack, and calls nothing', async (argv) => {
    const r = await cli(argv, {
      io: { catalog: undefined, cwd: outside, clients: { ...testClients(null), dynamodb } },
    });
    expect(r.stderr).toMatch(REFUSAL);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(sfn.calls()).toEqual([]);
    expect(tableCalls).toEqual([]);
  });

  it('report --file needs no catalog: it reads the file', async () => {
    const r = await cli(['report', '--file', join(outside, 'missing.json')], {
      io: { catalog: undefined, cwd: outside },
    });
    expect(r.stderr).not.toMatch(/no service catalog/);
  });

  it('bin/tps-deploy.js run in another directory refuses the same way (exit 2)', async () => {
    const bin = new URL('../../bin/tps-deploy.js', import.meta.url).pathname;
    const failed = await promisify(execFile)(process.execPath, [bin, 'history', '--service', 'api'], {
      cwd: outside,
      env: {
        PATH: process.env.PATH,
        HOME: outside,
        NODE_OPTIONS: '',
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { stderr: string }).stderr).toMatch(REFUSAL);
    expect(failed).toMatchObject({ code: 2 });
  });
});
