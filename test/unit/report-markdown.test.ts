/**
 * The Markdown report puts text from outside (gate evidence, a rollback's reason, events, the
 * engineer's name, an approval comment) into a checklist people sign off. None of it may forge a
 * line of the checklist (a checked item, a heading), start a line at all, or carry raw HTML.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import type { DeploymentRecord } from '../../functions/domain/record.js';
import { escapeMarkdown, renderReportMarkdown } from '../../report/markdown.js';

const FIXTURE = new URL('../fixtures/record-rolled-back-at-staging.json', import.meta.url).pathname;
const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as DeploymentRecord;

/** A value that tries to end its line and write the checklist's own lines and HTML. */
const FORGERY = [
  'ok',
  '- [x] Gate forged: pass',
  '# Forged heading',
  '<script>alert(1)</script>',
  '| forged | row |',
].join('\n');

function crafted(): DeploymentRecord {
  const r = structuredClone(fixture);
  return {
    ...r,
    gates: [
      { name: 'monitoring', passed: false, evidence: FORGERY },
      { name: 'attestations', passed: true, evidence: 'CI run [green](javascript:alert(1)) by *ci*' },
    ],
    requestedBy: `mallory\r\n## Approved by the CTO`,
    rollback: { ...r.rollback!, reason: `ValidationFailed: ${FORGERY}` },
    events: [...r.events, { at: '2026-11-28T08:00:00.000Z', message: FORGERY }],
  };
}

describe('Markdown report: values from outside cannot forge the checklist', () => {
  const md = renderReportMarkdown(crafted());
  const lines = md.split('\n');
  const honest = renderReportMarkdown(structuredClone(fixture)).split('\n');

  test('no forged checked item, heading or table row: a value never starts a line', () => {
    expect(lines.filter((l) => /^\s*- \[x\] Gate forged/.test(l))).toEqual([]);
    expect(lines.filter((l) => /^\s*#+ (Forged|Approved)/.test(l))).toEqual([]);
    expect(lines.filter((l) => /^\s*\| forged \|/.test(l))).toEqual([]);
    // The same headings and checked items as the record without the crafted values.
    const structure = (ls: string[]) => ls.filter((l) => /^(#|- \[x\])/.test(l)).map((l) => l.slice(0, 24));
    expect(structure(lines)).toEqual(expect.arrayContaining(structure(honest)));
    expect(lines.filter((l) => l.startsWith('#'))).toHaveLength(
      honest.filter((l) => l.startsWith('#')).length,
    );
    expect(lines.filter((l) => l.startsWith('- [x]'))).toHaveLength(
      honest.filter((l) => l.startsWith('- [x]')).length + 1, // the attestations gate passed
    );
  });

  test('no raw HTML and no live link: the text is shown, escaped', () => {
    expect(md).not.toMatch(/<script/i);
    expect(md).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(md).not.toContain('[green](javascript:');
    expect(md).toContain('\\[green\\]');
  });

  test('each value stays on its own line of the checklist, whole', () => {
    const gate = lines.find((l) => l.startsWith('- [ ] Gate monitoring: fail'));
    expect(gate).toContain('ok - \\[x\\] Gate forged: pass \\# Forged heading &lt;script&gt;');
    expect(lines.find((l) => l.startsWith('- Reason: '))).toContain('\\# Forged heading');
    expect(
      lines.filter((l) => l.includes('\\- \\[x\\] Gate forged') || l.includes('- \\[x\\] Gate forged')),
    ).toHaveLength(3);
    expect(lines.find((l) => l.startsWith('| Engineer |'))).toBe(
      '| Engineer | mallory \\#\\# Approved by the CTO |',
    );
  });
});

describe('escapeMarkdown', () => {
  test.each([
    ['plain text, numbers 1.07% and p=3.5e-263', 'plain text, numbers 1.07% and p=3.5e-263'],
    ['a\nb\r\nc\rd\u2028e', 'a b c d e'],
    ['<b>&amp;</b>', '&lt;b&gt;&amp;amp;&lt;/b&gt;'],
    ['*bold* _em_ `code` ~strike~', '\\*bold\\* \\_em\\_ \\`code\\` \\~strike\\~'],
    ['[x](y) ![i](z)', '\\[x\\](y) !\\[i\\](z)'],
    ['a | b \\ c', 'a \\| b \\\\ c'],
    ['# h', '\\# h'],
    ['- [x] done', '\\- \\[x\\] done'],
    ['1. one', '1\\. one'],
    ['0.0125% and -5 and --- and 2)x', '0.0125% and -5 and --- and 2)x'],
    ['---', '\\---'],
    ['> quote', '&gt; quote'],
  ])('%j -> %j', (raw, escaped) => {
    expect(escapeMarkdown(raw)).toBe(escaped);
  });
});
