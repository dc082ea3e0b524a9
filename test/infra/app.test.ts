import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TASK_KEYS } from '../../functions/contract/tasks.js';
import { parseCatalog } from '../../functions/domain/config.js';
import { ESM_BANNER } from '../../infra/constructs/task-functions.js';
import sample from '../../tps.config.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Runs infra/app.ts the way `npx cdk synth` does (the CLI passes context and the output folder in
 * CDK_CONTEXT_JSON and CDK_OUTDIR), with no AWS credentials or default environment.
 */
function runApp(context: Record<string, unknown>): { outdir: string; status: number | null; stderr: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'tps-cdk-out-'));
  dirs.push(outdir);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('AWS_') && !k.startsWith('CDK_')) env[k] = v;
  }
  const run = spawnSync(process.execPath, [TSX, 'infra/app.ts'], {
    cwd: ROOT,
    env: { ...env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context), HOME: process.env.HOME },
    encoding: 'utf8',
  });
  return { outdir, status: run.status, stderr: run.stderr };
}

// biome-ignore lint/suspicious/noExplicitAny: a synthesized template is free-form JSON
function readTemplate(outdir: string): any {
  return JSON.parse(readFileSync(join(outdir, 'TpsDeploy.template.json'), 'utf8'));
}

test('infra/app.ts synthesizes the sample catalog without AWS credentials', () => {
  const { outdir, status, stderr } = runApp({ 'aws:cdk:bundling-stacks': [] });
  expect(stderr).not.toMatch(/Error/);
  expect(status).toBe(0);
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
  expect(manifest.artifacts.TpsDeploy.environment).toBe('aws://unknown-account/unknown-region');
  expect(manifest.artifacts.TpsDeploy.properties.stackName).toBe('tps-deploy');
  const template = readTemplate(outdir);
  const machines = Object.values(template.Resources).filter(
    (r) => (r as { Type: string }).Type === 'AWS::StepFunctions::StateMachine',
  );
  expect(machines).toHaveLength(2);
});

test('the real synth bundles every task function and the answer endpoint with local esbuild as ESM, the parsed catalog next to each handler', () => {
  // The CDK CLI sets this context by default; it records each function's asset folder.
  const { outdir, status, stderr } = runApp({ 'aws:cdk:enable-asset-metadata': true });
  expect(status).toBe(0);
  expect(stderr).not.toMatch(/docker/i);
  const template = readTemplate(outdir);
  const functions = Object.values(template.Resources).filter(
    (r) => (r as { Type: string }).Type === 'AWS::Lambda::Function',
  ) as { Metadata: { 'aws:asset:path': string } }[];
  // Every task function and the answer endpoint's function (functions/handlers/answer.ts).
  expect(functions).toHaveLength(TASK_KEYS.length + 1);
  for (const fn of functions) {
    const asset = join(outdir, fn.Metadata['aws:asset:path']);
    const bundle = join(asset, 'index.mjs');
    expect(existsSync(bundle)).toBe(true);
    expect(existsSync(`${bundle}.map`)).toBe(true);
    const code = readFileSync(bundle, 'utf8');
    expect(code.startsWith(ESM_BANNER)).toBe(true);
    // The handler is exported for the runtime's `index.handler`.
    expect(code).toMatch(/export\{[^}]*as handler[^}]*\}/);
    // The catalog the functions read at run time (functions/handlers/catalog-file.ts), not bundled in.
    expect(JSON.parse(readFileSync(join(asset, 'catalog.json'), 'utf8'))).toEqual(
      JSON.parse(JSON.stringify(parseCatalog(sample))),
    );
    expect(code).not.toContain('Public REST API (sample');
  }
});
