/**
 * The Done-when of the package: `npm pack` of this repository installs into a fresh CDK app outside
 * it (with aws-cdk-lib, constructs and cdk-nag, from the npm cache), and an app that imports only
 * the installed package (test/fixtures/package-app) synthesizes two runbooks, one per EKS endpoint
 * mode, with cdk-nag's AWS Solutions checks on and cfn-lint clean; a pipeline role granted
 * grantStartRelease gets exactly StartExecution on the state machine and DescribeExecution on its
 * executions; a bad catalog fails synth naming every bad field; and a TypeScript app typechecks
 * against the package's declarations. Each step's duration goes to stderr.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { cfnLint, ensureCfnLint, lintProblems } from '../helpers/cfn-lint.js';
import type { CfnTemplate } from '../helpers/synth.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'package-app');
const work = mkdtempSync(join(tmpdir(), 'tps-package-'));
const appDir = join(work, 'app');
const outdir = join(work, 'cdk.out');
const timings: string[] = [];

/** The version of a package this repository installed, so the app's install is served from the npm cache. */
const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;

function timed<T>(what: string, fn: () => T): T {
  const started = Date.now();
  const result = fn();
  timings.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

let templates: Record<string, CfnTemplate>;
let typecheck: Promise<{ status: number; out: string }>;

beforeAll(() => {
  const tarball = timed('npm pack (prepack builds dist/)', () => {
    const out = execFileSync('npm', ['pack', '--pack-destination', work, '--json', '--silent'], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const [packed] = JSON.parse(out) as { filename: string; size: number; unpackedSize: number }[];
    timings.push(
      `tarball ${(packed!.size / 1e6).toFixed(1)} MB, unpacked ${(packed!.unpackedSize / 1e6).toFixed(1)} MB`,
    );
    return join(work, packed!.filename);
  });
  mkdirSync(appDir);
  writeFileSync(
    join(appDir, 'package.json'),
    JSON.stringify({ name: 'package-test-app', private: true, type: 'module' }, null, 2),
  );
  for (const file of readdirSync(FIXTURE)) copyFileSync(join(FIXTURE, file), join(appDir, file));
  timed('npm install (tarball, aws-cdk-lib, constructs, cdk-nag)', () => {
    const install = run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        tarball,
        `aws-cdk-lib@${versionOf('aws-cdk-lib')}`,
        `constructs@${versionOf('constructs')}`,
        `cdk-nag@${versionOf('cdk-nag')}`,
      ],
      appDir,
    );
    expect({ status: install.status, stderr: install.stderr }).toMatchObject({ status: 0 });
  });
  // The typecheck runs beside the synth and the tests below (its own process); its test awaits it.
  const typecheckStarted = Date.now();
  typecheck = new Promise((done) => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    execFile(
      process.execPath,
      [tsc, '-p', 'tsconfig.json'],
      { cwd: appDir, encoding: 'utf8' },
      (error, stdout) => {
        timings.push(
          `tsc of the typed app ${((Date.now() - typecheckStarted) / 1000).toFixed(1)} s (beside the rest)`,
        );
        done({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout });
      },
    );
  });
  const synth = timed('synth of the app (cdk-nag on)', () =>
    run(process.execPath, ['app.mjs'], appDir, { CDK_OUTDIR: outdir }),
  );
  expect({ status: synth.status, stderr: synth.stderr }).toEqual({ status: 0, stderr: '' });
  templates = Object.fromEntries(
    readdirSync(outdir)
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => [f.replace('.template.json', ''), JSON.parse(readFileSync(join(outdir, f), 'utf8'))]),
  );
}, 600_000);

afterAll(() => {
  process.stderr.write(`[package.test] ${timings.join('; ')}\n`);
  rmSync(work, { recursive: true, force: true });
});

describe('the packed package in a CDK app of its own', () => {
  test('the package holds dist only (and README, LICENSE, package.json), no sources', () => {
    const pkg = JSON.parse(readFileSync(join(appDir, 'node_modules', 'tps-deploy', 'package.json'), 'utf8'));
    expect(pkg.private).toBeUndefined();
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    const top = readdirSync(join(appDir, 'node_modules', 'tps-deploy')).sort();
    expect(top).toEqual(['LICENSE', 'README.md', 'dist', 'package.json']);
    expect(readdirSync(join(appDir, 'node_modules', 'tps-deploy', 'dist')).sort()).toEqual([
      'cli',
      'functions',
      'lib',
      'types',
    ]);
  });

  test('two runbooks synthesize with cdk-nag on: one public endpoint, one private in the VPC', () => {
    expect(Object.keys(templates).sort()).toEqual(['ShopPrivate', 'ShopPublic']);
    const machines = (t: CfnTemplate) =>
      Object.values(t.Resources)
        .filter((r) => r.Type === 'AWS::StepFunctions::StateMachine')
        .map((r) => r.Properties?.StateMachineName);
    expect(machines(templates.ShopPublic!)).toEqual(['shop-public-api']);
    expect(machines(templates.ShopPrivate!)).toEqual(['shop-private-ledger']);
    const inVpc = (t: CfnTemplate) =>
      Object.values(t.Resources).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties?.VpcConfig)
        .length;
    expect(inVpc(templates.ShopPublic!)).toBe(0);
    expect(inVpc(templates.ShopPrivate!)).toBeGreaterThan(0);
    for (const t of Object.values(templates)) {
      expect(Object.keys(t.Outputs ?? {})).toContain('TpsDeployRunbook');
      // The functions run the prebuilt bundles, each with its own handler, all from one asset.
      const functions = Object.values(t.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
      expect(new Set(functions.map((f) => f.Properties?.Code.S3Key)).size).toBe(1);
      expect(functions.map((f) => f.Properties?.Handler)).toContain('answer.handler');
    }
  });

  test('the function asset is the prebuilt bundles with the catalog the app gave, parsed', () => {
    const assets = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    const catalogs = assets.map((a) => JSON.parse(readFileSync(join(outdir, a, 'catalog.json'), 'utf8')));
    expect(catalogs.map((c) => c.appName).sort()).toEqual(['shop-private', 'shop-public']);
    for (const a of assets) {
      expect(readdirSync(join(outdir, a))).toEqual(
        expect.arrayContaining(['answer.mjs', 'shift-traffic.mjs', 'chunks', 'catalog.json']),
      );
    }
    // Defaults filled in by parseCatalog: the file is the parsed catalog.
    expect(catalogs.find((c) => c.appName === 'shop-public').services.api.phases).toEqual({});
  });

  test('a function loads only its own chunks: the Kubernetes client only in the cluster tasks', () => {
    const functions = join(appDir, 'node_modules', 'tps-deploy', 'dist', 'functions');
    /** The files an entry loads: itself and, transitively, the chunks it imports. */
    const loaded = (file: string, seen = new Set<string>()): Set<string> => {
      if (seen.has(file)) return seen;
      seen.add(file);
      for (const [, rel] of readFileSync(file, 'utf8').matchAll(/["'](\.\.?\/[^"']+\.mjs)["']/g)) {
        loaded(resolve(dirname(file), rel!), seen);
      }
      return seen;
    };
    const usesKubernetes = (entry: string) =>
      [...loaded(join(functions, entry))].some((f) =>
        readFileSync(f, 'utf8').includes('KUBERNETES_SERVICE_HOST'),
      );
    expect(usesKubernetes('shift-traffic.mjs')).toBe(true);
    expect(usesKubernetes('complete-release.mjs')).toBe(false);
    expect(usesKubernetes('answer.mjs')).toBe(false);
  });

  test('cfn-lint finds nothing in either template', () => {
    const bin = ensureCfnLint();
    const problems = timed('cfn-lint (both templates, one run)', () =>
      lintProblems(cfnLint(bin, work, ...Object.values(templates))),
    );
    expect(problems).toEqual([]);
  });

  test('grantStartRelease gives the pipeline role exactly StartExecution and DescribeExecution', () => {
    const t = templates.ShopPublic!;
    const [roleId] = Object.entries(t.Resources)
      .filter(
        ([, r]) =>
          r.Type === 'AWS::IAM::Role' && r.Properties?.Description?.startsWith('The release pipeline'),
      )
      .map(([id]) => id);
    const policies = Object.values(t.Resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties?.Roles) === JSON.stringify([{ Ref: roleId }]),
    );
    const statements = policies.flatMap((p) => p.Properties?.PolicyDocument.Statement);
    const [machine] = Object.entries(t.Resources)
      .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
      .map(([id]) => id);
    expect(statements).toEqual([
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: machine } },
      {
        Action: 'states:DescribeExecution',
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':states:us-east-1:123456789012:execution:shop-public-api:*'],
          ],
        },
      },
    ]);
  });

  test('a bad catalog fails synth naming every bad field', () => {
    const bad = run(process.execPath, ['bad-catalog.mjs'], appDir, { CDK_OUTDIR: join(work, 'bad.out') });
    expect(bad.status).not.toBe(0);
    for (const field of [
      'catalog.appName is "1-starts-with-a-digit"',
      'catalog.services.api.namespace is "Not_A_Label"',
      'catalog.services.api.slo.p99Ms is -5',
      'catalog.services.web.deployment is missing',
      'catalog.services.web.router',
    ]) {
      expect(bad.stderr).toContain(field);
    }
  });

  test('the package bin is the bundled CLI: it runs, and says local is for a clone', () => {
    const bin = join(appDir, 'node_modules', '.bin', 'tps-deploy');
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const help = run(bin, ['history', '--help'], appDir);
    expect(help.stdout).toContain('Usage: tps-deploy history [options]');
    const local = run(bin, ['local'], appDir);
    expect(local.status).not.toBe(0);
    expect(local.stderr).toContain('run from a clone of the tps-deploy repository');
  });

  test('a TypeScript app typechecks against the package declarations (and wrong props do not)', async () => {
    expect(await typecheck).toEqual({ status: 0, out: '' });
  }, 300_000);
});
