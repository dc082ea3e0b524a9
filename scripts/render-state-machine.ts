/**
 * Renders the release state machine into docs/state-machine.md: a Mermaid `stateDiagram-v2`
 * (GitHub draws it) and a table of every state, both generated from the ASL that CDK synthesizes
 * for the sample catalog (local/synth.ts), never drawn by hand.
 *
 *   npx tsx scripts/render-state-machine.ts           rewrite the generated part of the doc
 *   npx tsx scripts/render-state-machine.ts --check   exit 1 if the doc is out of date
 *   npx tsx scripts/render-state-machine.ts --service web
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Asl, extractAsl, functionTasks, synthTemplate } from '../local/synth.js';

const DOC = fileURLToPath(new URL('../docs/state-machine.md', import.meta.url));
const BEGIN = '<!-- BEGIN GENERATED: scripts/render-state-machine.ts -->';
const END = '<!-- END GENERATED -->';

interface AslState {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Default?: string;
  readonly Resource?: string;
  readonly Seconds?: number;
  readonly SecondsPath?: string;
  readonly Choices?: readonly Record<string, unknown>[];
  readonly Catch?: readonly { ErrorEquals: string[]; Next: string }[];
  readonly Retry?: readonly { ErrorEquals: string[]; MaxAttempts?: number }[];
  readonly Error?: string;
  readonly Comment?: string;
  readonly Parameters?: { readonly FunctionName?: string };
}

const COMPARATORS = [
  'StringEquals',
  'BooleanEquals',
  'NumericEquals',
  'NumericGreaterThan',
  'NumericLessThan',
  'IsPresent',
] as const;

/** `$.verdicts.canary.verdict` + StringEquals `pass` -> `verdict = pass`. */
export function conditionLabel(c: Record<string, unknown>): string {
  for (const key of ['And', 'Or'] as const) {
    const list = c[key];
    if (Array.isArray(list))
      return list.map((x) => conditionLabel(x as Record<string, unknown>)).join(` ${key.toLowerCase()} `);
  }
  if (c.Not) return `not ${conditionLabel(c.Not as Record<string, unknown>)}`;
  const variable =
    String(c.Variable ?? '')
      .split('.')
      .at(-1) ?? '';
  for (const op of COMPARATORS) {
    if (op in c) {
      const value = c[op];
      const sym =
        op === 'NumericGreaterThan'
          ? '>'
          : op === 'NumericLessThan'
            ? '<'
            : op === 'IsPresent'
              ? 'present'
              : '=';
      return sym === 'present'
        ? `${variable} ${value ? 'present' : 'absent'}`
        : `${variable} ${sym} ${String(value)}`;
    }
  }
  return 'condition';
}

/** Mermaid state ids must be simple words; labels carry the real names. */
function ids(names: readonly string[]): Map<string, string> {
  return new Map(names.map((n, i) => [n, `s${i}`]));
}

const esc = (s: string) => s.replace(/"/g, "'").replace(/:/g, '∶');

/** The Mermaid diagram of a state machine. The most common Catch target is drawn once, from a note. */
export function mermaid(asl: Asl): string {
  const states = asl.States as Record<string, AslState>;
  const names = Object.keys(states);
  const id = ids(names);
  const catchTargets = new Map<string, number>();
  for (const s of Object.values(states))
    for (const c of s.Catch ?? []) catchTargets.set(c.Next, (catchTargets.get(c.Next) ?? 0) + 1);
  const [commonCatch, commonCount] = [...catchTargets.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
  const lines = ['stateDiagram-v2', '  direction TB'];
  for (const n of names) lines.push(`  state "${esc(n)}" as ${id.get(n)}`);
  lines.push(`  [*] --> ${id.get(asl.StartAt as string)}`);
  for (const [n, s] of Object.entries(states)) {
    const from = id.get(n)!;
    if (s.Next) lines.push(`  ${from} --> ${id.get(s.Next)}`);
    if (s.Type === 'Choice') {
      for (const c of s.Choices ?? [])
        lines.push(`  ${from} --> ${id.get(String(c.Next))}: ${esc(conditionLabel(c))}`);
      if (s.Default) lines.push(`  ${from} --> ${id.get(s.Default)}: otherwise`);
    }
    for (const c of s.Catch ?? []) {
      if (c.Next === commonCatch && commonCount > 3) continue;
      lines.push(`  ${from} --> ${id.get(c.Next)}: catch ${esc(c.ErrorEquals.join(', '))}`);
    }
    if (s.Type === 'Succeed' || s.Type === 'Fail' || s.End) lines.push(`  ${from} --> [*]`);
  }
  if (commonCatch && commonCount > 3) {
    lines.push(`  state "any of ${commonCount} tasks fails (Catch)" as anyfail`);
    lines.push(`  anyfail --> ${id.get(commonCatch)}`);
  }
  lines.push(
    '  classDef task fill:#dbeafe,stroke:#2563eb,color:#0f172a',
    '  classDef wait fill:#fef3c7,stroke:#d97706,color:#0f172a',
    '  classDef choice fill:#f1f5f9,stroke:#64748b,color:#0f172a',
    '  classDef fail fill:#fee2e2,stroke:#dc2626,color:#0f172a',
    '  classDef succeed fill:#d1fae5,stroke:#059669,color:#0f172a',
  );
  const byClass: Record<string, string[]> = { task: [], wait: [], choice: [], fail: [], succeed: [] };
  for (const [n, s] of Object.entries(states)) {
    const cls = {
      Task: 'task',
      Wait: 'wait',
      Choice: 'choice',
      Pass: 'choice',
      Fail: 'fail',
      Succeed: 'succeed',
    }[s.Type];
    if (cls) byClass[cls]!.push(id.get(n)!);
  }
  if (commonCatch) byClass.fail!.push('anyfail');
  for (const [cls, list] of Object.entries(byClass))
    if (list.length) lines.push(`  class ${list.join(',')} ${cls}`);
  return lines.join('\n');
}

/** One row per state: type, what it runs or waits for, where it goes, what it catches. */
export function stateTable(asl: Asl, taskOfResource: (resource: string) => string | undefined): string {
  const states = asl.States as Record<string, AslState>;
  const rows = ['| state | type | runs / waits | next | on error |', '| --- | --- | --- | --- | --- |'];
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  for (const [n, s] of Object.entries(states)) {
    let what = '';
    if (s.Type === 'Task') {
      const token = s.Resource?.endsWith('.waitForTaskToken') ? ' (waits for a task token)' : '';
      // Integrations such as `.waitForTaskToken` name the function in Parameters.FunctionName.
      const fn = s.Parameters?.FunctionName ?? s.Resource ?? '';
      what = `\`${taskOfResource(fn) ?? taskOfResource(s.Resource ?? '') ?? s.Resource ?? ''}\`${token}`;
    } else if (s.Type === 'Wait') {
      what = s.SecondsPath ? `\`${s.SecondsPath}\` s` : `${s.Seconds} s`;
    } else if (s.Type === 'Fail') {
      what = `error \`${s.Error ?? ''}\``;
    }
    const next =
      s.Type === 'Choice'
        ? [
            ...(s.Choices ?? []).map((c) => `${conditionLabel(c)} → ${c.Next}`),
            `otherwise → ${s.Default ?? '-'}`,
          ].join('; ')
        : (s.Next ?? (s.Type === 'Succeed' || s.Type === 'Fail' || s.End ? 'end' : ''));
    const onError = (s.Catch ?? []).map((c) => `${c.ErrorEquals.join(', ')} → ${c.Next}`).join('; ');
    rows.push(`| ${cell(n)} | ${s.Type} | ${cell(what)} | ${cell(next)} | ${cell(onError)} |`);
  }
  return rows.join('\n');
}

function render(service: string): string {
  const template = synthTemplate();
  const asl = extractAsl(template, service);
  const tasks = functionTasks(template);
  const taskOf = (resource: string) => {
    const logicalId = resource.split(':function:')[1]?.split(':')[0];
    return logicalId ? tasks[logicalId] : undefined;
  };
  const states = asl.States as Record<string, AslState>;
  const count = (t: string) => Object.values(states).filter((s) => s.Type === t).length;
  return [
    BEGIN,
    '',
    `Generated from the ASL of the \`${service}\` state machine of the sample catalog (tps.config.ts):`,
    `${Object.keys(states).length} states (${count('Task')} Task, ${count('Wait')} Wait, ${count('Choice')} Choice, ${count('Pass')} Pass, ${count('Fail')} Fail, ${count('Succeed')} Succeed).`,
    'Regenerate with `npx tsx scripts/render-state-machine.ts`.',
    '',
    '```mermaid',
    mermaid(asl),
    '```',
    '',
    '### Every state',
    '',
    stateTable(asl, taskOf),
    '',
    END,
  ].join('\n');
}

/** The doc as `biome format` writes it (it formats Markdown), so `npm run lint` and --check agree. */
function formatted(markdown: string): string {
  const biome = fileURLToPath(new URL('../node_modules/.bin/biome', import.meta.url));
  return execFileSync(biome, ['format', `--stdin-file-path=${DOC}`], { input: markdown, encoding: 'utf8' });
}

/** docs/state-machine.md as it is (`current`) and as the synthesized ASL of `service` renders it (`next`). */
export function stateMachineDoc(service = 'api'): { current: string; next: string } {
  const doc = readFileSync(DOC, 'utf8');
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DOC} has no generated block (${BEGIN} ... ${END})`);
  return {
    current: doc,
    next: formatted(`${doc.slice(0, start)}${render(service)}${doc.slice(end + END.length)}`),
  };
}

function main(): void {
  const args = process.argv.slice(2);
  const service = args.includes('--service') ? args[args.indexOf('--service') + 1]! : 'api';
  const { current: doc, next } = stateMachineDoc(service);
  if (args.includes('--check')) {
    if (next !== doc) {
      process.stderr.write(
        'docs/state-machine.md is out of date: run npx tsx scripts/render-state-machine.ts\n',
      );
      process.exitCode = 1;
    }
    return;
  }
  writeFileSync(DOC, next);
  process.stderr.write(`wrote ${DOC}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
