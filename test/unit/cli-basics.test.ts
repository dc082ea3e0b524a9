import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nextImage } from '../../cli/commands/local.js';
import { PROFILE_NAMES } from '../../functions/adapters/synthetic/index.js';
import { cli } from './cli-harness.js';

const COMMANDS = [
  'start',
  'status',
  'watch',
  'list',
  'history',
  'report',
  'abort',
  'rollback',
  'approve',
  'reject',
  'hold',
  'promote',
  'unlock',
  'doctor',
  'local',
  'cluster',
  'cluster up',
  'cluster down',
  'cluster status',
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-basics-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('help and usage errors', () => {
  it.each(COMMANDS)('%s --help prints its usage and exits 0', async (command) => {
    const r = await cli([...command.split(' '), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: tps-deploy ${command}`);
    expect(r.stderr).toBe('');
  });

  it.each(COMMANDS.filter((c) => c !== 'cluster'))('%s has --json', async (command) => {
    const r = await cli([...command.split(' '), '--help']);
    expect(r.stdout).toMatch(/--json\b/);
  });

  it('the top-level help lists every command and the exit codes', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS.filter((c) => !c.includes(' ')))
      expect(r.stdout).toMatch(new RegExp(`\\n  ${c}\\b`));
    expect(r.stdout).toContain('3  the release was ROLLED_BACK');
  });

  it('no arguments prints the help and exits 2', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Usage: tps-deploy');
  });

  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it.each([
    [['deploy'], /unknown command 'deploy'/],
    [['status', 'd-1', '--bogus'], /unknown option '--bogus'/],
    [['status'], /missing required argument 'id'/],
    [['start', '--service'], /option '--service <name>' argument missing/],
    [
      ['start', '--service', 'api', '--image', 'r/a:v1', '--poll-interval', '0'],
      /--poll-interval must be a positive number/,
    ],
    [['local', '--speed', 'fast'], /--speed must be a positive number/],
    [['cluster', 'restart'], /unknown command 'restart'/],
  ])('%j exits 2 naming the problem', async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('(add --help for usage)');
  });

  it('a bad --config is a usage error naming the flag', async () => {
    const r = await cli(['history', '--service', 'api', '--config', join(dir, 'nope.ts')], {
      io: { catalog: undefined },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--config: no catalog file at .*nope\.ts/);
    const bad = join(dir, 'bad.config.mjs');
    await writeFile(bad, 'export default { appName: "x", services: {} };\n');
    const invalid = await cli(['history', '--service', 'api', '--config', bad], {
      io: { catalog: undefined },
    });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(
      /bad\.config\.mjs: invalid service catalog: services: at least one service/,
    );
  });
});

describe('local: checked before any cluster is touched', () => {
  it('refuses an unknown scenario, listing the shipped ones', async () => {
    const r = await cli(['local', '--scenario', 'meteor-strike']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--scenario: unknown scenario "meteor-strike"; use one of healthy, /);
    for (const p of PROFILE_NAMES) expect(r.stderr).toContain(p);
  });

  it('refuses a bad mode, a bad image, a missing traffic file, and --context without --kubeconfig', async () => {
    const mode = await cli(['local', '--mode', 'yolo']);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/--mode: "yolo" is not a mode; use hotfix/);
    const image = await cli(['local', '--image', 'Not An Image']);
    expect(image.code).toBe(2);
    expect(image.stderr).toMatch(/image: must be an image reference with a tag or digest/);
    const traffic = await cli(['local', '--traffic', join(dir, 'missing.json')]);
    expect(traffic.code).toBe(2);
    expect(traffic.stderr).toMatch(/--traffic: cannot read traffic profile .*missing\.json/);
    const context = await cli(['local', '--context', 'x']);
    expect(context.code).toBe(2);
    expect(context.stderr).toMatch(/--context needs --kubeconfig/);
  });

  it('names an unreachable cluster', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    await new Promise<void>((r) => server.close(() => r()));
    const kubeconfig = join(dir, 'down.kubeconfig');
    await writeFile(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n`,
    );
    const r = await cli(['local', '--kubeconfig', kubeconfig]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `cannot reach the Kubernetes API server at https://127.0.0.1:${port} \\(kubeconfig ${kubeconfig}\\): .*Is the cluster up\\?`,
      ),
    );
    const context = await cli(['local', '--kubeconfig', kubeconfig, '--context', 'prod']);
    expect(context.code).toBe(2);
    expect(context.stderr).toMatch(
      /--context: no context "prod" in .* \(it has c\)|--kubeconfig\/--context: .*prod/,
    );
  });

  it('picks the next minor version as the default image', () => {
    expect(nextImage('registry.local/shop/storefront:v1.0.0')).toBe('registry.local/shop/storefront:v1.1.0');
    expect(nextImage('registry.local:5000/shop/storefront:v2.9.3')).toBe(
      'registry.local:5000/shop/storefront:v2.10.0',
    );
    expect(nextImage('repo/app:latest')).toBe('repo/app:latest-next');
  });
});

describe('cluster', () => {
  it('status of a cluster that does not exist exits 1', async () => {
    const r = await cli(['cluster', 'status', '--name', `absent-${process.pid}`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`cluster absent-${process.pid}: absent`));
  });

  it('refuses a bad cluster name, naming the flag', async () => {
    const r = await cli(['cluster', 'down', '--name', 'Bad_Name']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--name: invalid cluster name "Bad_Name"/);
  });
});

describe('bin/tps-deploy.js', () => {
  it('runs the TypeScript CLI as a program', async () => {
    const bin = new URL('../../bin/tps-deploy.js', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'history', '--help'], {
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(stdout).toContain('Usage: tps-deploy history [options]');
    const failed = await promisify(execFile)(process.execPath, [bin, 'history'], {
      env: { ...process.env, NODE_OPTIONS: '' },
    }).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toMatch(/required option '--service <name>' not specified/);
  });
});
