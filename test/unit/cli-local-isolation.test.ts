/**
 * `--local` keeps everything on this machine: with TPS_ANSWER_URL and AWS_ENDPOINT_URL_EKS naming
 * recording HTTP servers (on 127.0.0.1, standing in for the real answer endpoint and EKS) and AWS
 * credentials in the environment, `--local start` starts through the local environment and sends
 * nothing to either, and the commands `--local` does not serve are refused (exit 2) before any call.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { run } from '../../cli/main.js';
import { LOCAL_API_REGION, type LocalApiState, writeLocalState } from '../../local/api-state.js';
import { ExecutionHistories, ExecutionHistory } from '../../local/execution-history.js';
import { type LocalSfnApi, type LocalStateMachine, serveSfnApi } from '../../local/sfn-api.js';
import { CATALOG, Collect } from './cli-harness.js';

const MACHINE: LocalStateMachine = {
  arn: 'arn:aws:states:local:000000000000:stateMachine:tps-test-api',
  name: 'tps-test-api',
  service: 'api',
  definition: JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Succeed' } } }),
  creationDate: new Date(Date.UTC(2026, 11, 1)),
};
const clock = () => new Date(Date.UTC(2026, 11, 1, 10, 0, 0));

/** An HTTP server on 127.0.0.1 that records every request and answers 200 `{}`. */
interface Recorder {
  readonly url: string;
  readonly requests: string[];
  close(): Promise<void>;
}
async function recorder(): Promise<Recorder> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers['x-amz-target'] ?? ''}`.trim());
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

const histories = new ExecutionHistories();
const started: string[] = [];
let api: LocalSfnApi;
let answer: Recorder;
let eks: Recorder;
let statePath: string;
const saved: Record<string, string | undefined> = {};
/** What the SDK reads from the process environment: a credential pair and an EKS endpoint. */
const PROCESS_ENV = ['AWS_ENDPOINT_URL_EKS', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

beforeAll(async () => {
  api = await serveSfnApi({
    stateMachines: [MACHINE],
    histories,
    start: (machine, name, input) => {
      started.push(name);
      const arn = `${machine.arn.replace(':stateMachine:', ':execution:')}:${name}`;
      histories.add(new ExecutionHistory(arn, machine.arn, name, input, clock));
    },
    stop: () => false,
  });
  answer = await recorder();
  eks = await recorder();
  statePath = join(mkdtempSync(join(tmpdir(), 'tps-local-iso-')), 'state.json');
  const state: LocalApiState = {
    version: 1,
    pid: process.pid,
    region: LOCAL_API_REGION,
    endpoints: { stepFunctions: api.endpoint, dynamodb: 'http://127.0.0.1:1' },
    tableName: 'tps-test-deployments',
    stateMachines: { api: MACHINE.arn },
    catalog: CATALOG,
  };
  writeLocalState(statePath, state);
  for (const k of PROCESS_ENV) saved[k] = process.env[k];
  process.env.AWS_ENDPOINT_URL_EKS = eks.url;
  process.env.AWS_ACCESS_KEY_ID = 'AKIAREALLOOKING';
  process.env.AWS_SECRET_ACCESS_KEY = 'real-looking-secret';
});

afterAll(async () => {
  for (const k of PROCESS_ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await Promise.all([api.close(), answer.close(), eks.close()]);
});

async function cli(argv: string[], extraEnv: Record<string, string> = {}) {
  const stdout = new Collect();
  const stderr = new Collect();
  const code = await run(argv, {
    stdout,
    stderr,
    env: {
      USER: 'tester',
      TPS_LOCAL_STATE: statePath,
      TPS_ANSWER_URL: answer.url,
      AWS_ACCESS_KEY_ID: 'AKIAREALLOOKING',
      AWS_SECRET_ACCESS_KEY: 'real-looking-secret',
      AWS_REGION: 'us-east-1',
      ...extraEnv,
    },
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const LOCAL_LIST = '--local works with watch, list, status, history, report and start only';

describe('--local sends nothing off the local environment', () => {
  test('--local start ignores TPS_ANSWER_URL: it starts through the local Step Functions API', async () => {
    const r = await cli([
      '--local',
      'start',
      '--service',
      'api',
      '--image',
      'repo/api:v2',
      '--name',
      'iso-1',
      '--tests-passed',
    ]);
    expect({ code: r.code, stderr: r.stderr, answer: answer.requests, eks: eks.requests }).toEqual({
      code: 0,
      stderr: '',
      answer: [],
      eks: [],
    });
    expect(started).toEqual(['iso-1']);
    expect(r.stdout).toContain('started iso-1');
  });

  test('--local start --answer-url is bad usage; nothing is started or sent', async () => {
    const r = await cli([
      '--local',
      'start',
      '--service',
      'api',
      '--image',
      'repo/api:v3',
      '--answer-url',
      answer.url,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'tps-deploy: --answer-url: a --local environment has no answer endpoint (start goes to its Step Functions API); drop --answer-url or --local\n',
    );
    expect(answer.requests).toEqual([]);
    expect(started).toEqual(['iso-1']);
  });

  test.each([
    ['doctor'],
    ['approve', 'd-1'],
    ['reject', 'd-1'],
    ['hold', 'd-1'],
    ['promote', 'd-1'],
    ['abort', 'd-1'],
    ['rollback', '--service', 'api'],
    ['unlock', '--service', 'api'],
  ])('--local %s is refused (exit 2) before any call', async (...args: string[]) => {
    const r = await cli(['--local', ...args]);
    expect({ answer: answer.requests, eks: eks.requests }).toEqual({ answer: [], eks: [] });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `tps-deploy: --local: ${args[0]} does not run against the local environment; ${LOCAL_LIST}\n`,
    );
  });
});

test('--local ignores TPS_STACK from the environment, with a note; --stack with --local stays refused', async () => {
  const r = await cli(
    ['--local', 'start', '--service', 'api', '--image', 'repo/api:v4', '--name', 'iso-2', '--tests-passed'],
    { TPS_STACK: 'prod' },
  );
  expect(r.code).toBe(0);
  expect(r.stderr).toBe(
    'note: --local ignores TPS_STACK=prod (the local environment is not a deployed stack)\n',
  );
  expect(started).toContain('iso-2');
  const both = await cli([
    '--local',
    '--stack',
    'prod',
    'start',
    '--service',
    'api',
    '--image',
    'repo/api:v5',
  ]);
  expect(both.code).toBe(2);
  expect(both.stderr).toBe(
    'tps-deploy: --stack: a --local environment is not a deployed stack; give --stack or --local, not both\n',
  );
  expect({ answer: answer.requests, eks: eks.requests }).toEqual({ answer: [], eks: [] });
});

describe('every client built under --local goes to loopback', () => {
  test('the EKS client of any region is the closed local one, not AWS_ENDPOINT_URL_EKS', async () => {
    const { CliContext } = await import('../../cli/context.js');
    const { DescribeClusterCommand } = await import('@aws-sdk/client-eks');
    const ctx = new CliContext(
      { stdout: new Collect(), stderr: new Collect(), env: { TPS_LOCAL_STATE: statePath } },
      { local: true },
    );
    const client = ctx.eksIn('eu-west-1');
    await expect(client.send(new DescribeClusterCommand({ name: 'prod-eks' }))).rejects.toThrow(
      /ECONNREFUSED/,
    );
    expect(eks.requests).toEqual([]);
  });
});
