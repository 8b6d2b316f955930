/**
 * The README's CLI section shows what `sweep` and `run` print on the `incident` fleet. The
 * fixtures are the `--json` documents of real runs against `fleetmend sim` (incident scenario;
 * `facts` removed for size); this test renders them with the CLI's own output functions and
 * compares with the README text between the markers, so the README cannot drift from the code.
 * After a deliberate output change: UPDATE_README_CLI=1 rewrites the blocks.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HostResult, RunSummary } from '../../src/results/index.js';
import { summaryTable } from '../../src/cli/progress.js';
import { playbookText } from '../../src/cli/terminal.js';
import type { HostRecap } from '../../src/playbook/recap.js';

const README = join(process.cwd(), 'README.md');
const fixture = <T>(name: string): T => JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/cli', name), 'utf8')) as T;

interface Doc {
  summary: RunSummary;
  hosts: HostResult[];
  recap?: HostRecap[];
  stopped?: { reason: string } | null;
}

const BLOCKS: Record<string, () => string> = {
  'cli-sweep': () => {
    const d = fixture<Doc>('incident-sweep.json');
    return `$ fleetmend sweep -i inventory.yml --known-hosts known_hosts --interval 2\n${summaryTable(d.hosts, d.summary)}`;
  },
  'cli-run': () => {
    const d = fixture<Doc>('incident-check.json');
    return `$ fleetmend run playbooks/restart-auditd.yml -i inventory.yml --known-hosts known_hosts --check --diff\n${playbookText(d.hosts, { recap: d.recap ?? [], stopped: d.stopped ?? null }, { diff: true })}`;
  },
};

function block(readme: string, name: string): { start: number; end: number } {
  const open = `<!-- ${name}:begin (generated: test/unit/readme-cli.test.ts) -->\n\`\`\`\n`;
  const start = readme.indexOf(open);
  const end = readme.indexOf('```\n<!-- ' + name + ':end -->', start);
  expect(start, `README marker ${name}:begin`).toBeGreaterThan(-1);
  expect(end, `README marker ${name}:end`).toBeGreaterThan(start);
  return { start: start + open.length, end };
}

describe("the README's CLI section shows what the CLI prints (issue 24)", () => {
  for (const name of Object.keys(BLOCKS)) {
    it(name, () => {
      let readme = readFileSync(README, 'utf8');
      const { start, end } = block(readme, name);
      const rendered = BLOCKS[name]!();
      if (process.env.UPDATE_README_CLI === '1') {
        readme = readme.slice(0, start) + rendered + readme.slice(end);
        writeFileSync(README, readme);
      }
      expect(readme.slice(start, end)).toBe(rendered);
    });
  }
});
