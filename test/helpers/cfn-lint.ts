/**
 * cfn-lint for the tests: installed into a private virtualenv on first use by
 * scripts/ensure-cfn-lint.sh (pinned version), run on a template written to a file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Warnings that are properties of CDK's output rather than of our stack, each with the reason:
 * - W3005: CDK adds DependsOn on a role next to the GetAtt of the same role (functions and state
 *   machines wait for the role's default policy that way); the redundant edge is harmless.
 */
export const TOLERATED_WARNINGS = ['W3005'];

/** One finding of cfn-lint's JSON output. */
export interface CfnLintMatch {
  readonly Level: 'Error' | 'Warning' | 'Informational';
  readonly Message: string;
  readonly Rule: { readonly Id: string };
  readonly Filename?: string;
  readonly Location: { readonly Path?: readonly (string | number)[] };
}

const ROOT = resolve(import.meta.dirname, '..', '..');

/** The cfn-lint binary (installed into the cache on first use, in seconds; then only its path). */
export function ensureCfnLint(): string {
  return execFileSync('sh', [join(ROOT, 'scripts', 'ensure-cfn-lint.sh')], { encoding: 'utf8' }).trim();
}

let files = 0;

/** Lints templates (JSON) written into `dir`, in one cfn-lint run; returns every finding. */
export function cfnLint(cfnLintBin: string, dir: string, ...templates: unknown[]): CfnLintMatch[] {
  const paths = templates.map((template) => {
    const file = join(dir, `template-${process.pid}-${files++}.json`);
    writeFileSync(file, JSON.stringify(template, null, 1));
    return file;
  });
  // Exit status is a bit mask of the levels found (2 error, 4 warning, 8 info); read the JSON.
  const run = spawnSync(cfnLintBin, ['--format', 'json', '--', ...paths], { encoding: 'utf8' });
  if (run.error) throw run.error;
  if (run.stdout.trim() === '')
    throw new Error(`cfn-lint printed nothing (status ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as CfnLintMatch[];
}

export const describeMatch = (m: CfnLintMatch) =>
  `${m.Rule.Id} ${m.Message} at ${m.Location.Path?.join('/')}`;

/** The errors and the warnings not tolerated, described; empty when the template is clean. */
export function lintProblems(matches: readonly CfnLintMatch[]): string[] {
  return matches
    .filter((m) => m.Level === 'Error' || (m.Level === 'Warning' && !TOLERATED_WARNINGS.includes(m.Rule.Id)))
    .map(describeMatch);
}
