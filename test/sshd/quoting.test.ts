/**
 * Issue 16 §2 on a real host (OpenSSH sshd, the account's login shell bash, become through real
 * sudo to `sh -c`): `shell: 'echo "ticket: {{ ticket }}"'` with
 * `-e '{"ticket":"INC-1 $(echo INJECTED-$((6*7)))"}'` printed INJECTED-42. The value must arrive
 * verbatim in every context, from -e and from inventory vars, and nothing it carries may run.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshdFleet, type SshdFleet } from '../helpers/sshd-fleet.js';
import { runCli } from '../helpers/cli.js';
import { skipReason } from './util.js';

const TICKET = 'INC-1 $(echo INJECTED-$((6*7)))';

describe.skipIf(skipReason !== null)('template values on a real host: quoted for where they land', () => {
  let fleet: SshdFleet;
  let dir: string;
  const canary = join(tmpdir(), `fm-canary-${process.pid}-${Date.now()}`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-shq-sshd-'));
    fleet = await startSshdFleet({ hosts: 1, sudo: 'nopasswd' });
  });
  afterAll(async () => {
    await fleet?.stop();
    rmSync(canary, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cli = (argv: string[]) =>
    runCli([...argv, '-i', invFile, '--known-hosts', fleet.knownHostsPath, '--no-store', '--json', '-q', '--connect-timeout', '20', '--command-timeout', '20'], {
      ...process.env,
      HOME: dir,
    });
  let invFile = '';

  it("the issue's exact example prints the ticket literally, never INJECTED-42 (with and without become)", async () => {
    type Inv = { all: { children: { sshd_fleet: { hosts: Record<string, Record<string, unknown>> } } } };
    const inv = parse(readFileSync(fleet.inventoryPath, 'utf8')) as Inv;
    const hosts = inv.all.children.sshd_fleet.hosts;
    hosts[Object.keys(hosts)[0]!]!.inv_ticket = `${TICKET} $(touch ${canary})`;
    invFile = join(dir, 'inv.yml');
    writeFileSync(invFile, stringify(inv));
    const pb = join(dir, 'ticket.yml');
    writeFileSync(
      pb,
      [
        '- name: ticket',
        '  hosts: all',
        '  tasks:',
        '    - name: the issue',
        `      shell: 'echo "ticket: {{ ticket }}"'`,
        '    - name: as root',
        `      shell: 'echo "ticket: {{ ticket }}"'`,
        '      become: true',
        '    - name: inventory var, heredoc and single quotes',
        '      shell: |',
        '        cat <<EOF',
        '        inv: {{ inv_ticket }}',
        '        EOF',
        "        echo 'sq: {{ inv_ticket }}'",
        '',
      ].join('\n'),
    );
    const r = await cli(['run', pb, '-e', JSON.stringify({ ticket: TICKET })]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { hosts: { tasks: { task: string; stdout?: string; status: string }[] }[] };
    const out = (task: string) => doc.hosts[0]!.tasks.find((t) => t.task === task)?.stdout;
    expect(out('the issue')).toBe(`ticket: ${TICKET}\n`);
    expect(out('as root')).toBe(`ticket: ${TICKET}\n`);
    expect(out('inventory var, heredoc and single quotes')).toBe(`inv: ${TICKET} $(touch ${canary})\nsq: ${TICKET} $(touch ${canary})\n`);
    expect(r.stdout).not.toContain('INJECTED-42');
    expect(existsSync(canary)).toBe(false);
  }, 60_000);
});
