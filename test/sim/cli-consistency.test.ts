/**
 * Issue 24 items 8 and 9 against the simulated `states` fleet, through the CLI as a user runs it:
 * a host without auditctl is `failed` in a sweep and in a playbook run alike; a locked host
 * (enabled 2) is refused by raise-backlog-limit.yml in check mode as its header says; the disk
 * host's note says what a sweep reads; `--start-at-task` and `-e @FILE` in a real run; the demo's
 * store under $XDG_STATE_HOME.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { runCli } from '../helpers/cli.js';

interface JsonTask {
  task: string;
  status: string;
  msg?: string;
  error?: { code: string; message: string };
}
interface JsonHost {
  host: string;
  status: string;
  error: { code: string; message: string } | null;
  diagnosis?: { state: string; findings: { code: string }[] };
  tasks?: JsonTask[];
}

let fleet: Fleet;
let dir: string;
const conn = () => ['-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--no-store', '-q', '--json'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-cli-consistency-'));
  fleet = await startFleet({ scenario: 'states', dir: join(dir, 'fleet'), loginDelayScale: 0.1 });
}, 60_000);
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function json(argv: string[]): Promise<{ code: number; hosts: JsonHost[]; stderr: string }> {
  const r = await runCli(argv);
  if (!r.stdout.trim()) throw new Error(`no JSON (exit ${r.code}): ${r.stderr}`);
  return { code: r.code, hosts: (JSON.parse(r.stdout) as { hosts: JsonHost[] }).hosts, stderr: r.stderr };
}

function playbook(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('a host whose audit status cannot be read fails a sweep and a playbook run alike', () => {
  it('st-no-auditctl: sweep failed (E_MODULE), audit_status task failed (E_MODULE), both exit 2', async () => {
    const sweep = await json(['sweep', ...conn(), '--interval', '0.2', '-l', 'st-no-auditctl']);
    expect(sweep.code).toBe(2);
    expect(sweep.hosts[0]).toMatchObject({ host: 'st-no-auditctl', status: 'failed', error: { code: 'E_MODULE' } });
    const pb = playbook('status.yml', '- hosts: all\n  tasks:\n    - name: Gather audit facts\n      audit_status: {}\n');
    const run = await json(['run', pb, ...conn(), '-l', 'st-no-auditctl']);
    expect(run.code).toBe(2);
    const h = run.hosts[0]!;
    expect(h.status).toBe('failed');
    expect(h.tasks?.[0]).toMatchObject({ status: 'failed', error: { code: 'E_MODULE' } });
    expect(h.tasks?.[0]?.error?.message).toBe(sweep.hosts[0]!.error!.message);
    // a host that can be read is still ok
    expect((await json(['run', pb, ...conn(), '-l', 'st-healthy'])).code).toBe(0);
  }, 60_000);
});

describe("raise-backlog-limit.yml on a locked host (enabled 2) is refused, as its header says", () => {
  it('check mode and apply both fail the lock guard (E_GUARD); nothing is reported changed', async () => {
    const pb = join(process.cwd(), 'playbooks', 'raise-backlog-limit.yml');
    for (const mode of [['--check', '--diff'], []]) {
      const r = await json(['run', pb, ...conn(), '-l', 'st-config-locked', ...mode]);
      const task = r.hosts[0]!.tasks!.find((t) => t.task.startsWith('Set and persist'))!;
      expect(task.status, mode.join(' ')).toBe('failed');
      expect(task.error?.code).toBe('E_GUARD');
      expect(task.msg).toMatch(/locked until reboot.*it would load only at the next boot/);
      expect(r.hosts[0]!.status).toBe('failed');
    }
  }, 90_000);
});

describe("the states fleet's disk host is advertised as what a sweep reads", () => {
  it("st-auditd-disk-action's note names the state and the finding the sweep reports", async () => {
    const sweep = await json(['sweep', ...conn(), '--interval', '0.2', '-l', 'st-auditd-disk-action']);
    const h = sweep.hosts[0]!;
    const note = fleet.hosts.find((x) => x.name === 'st-auditd-disk-action')!.note;
    expect(note.startsWith(h.diagnosis!.state)).toBe(true);
    for (const f of h.diagnosis!.findings) expect(note).toContain(f.code);
  }, 60_000);
});

describe('Ansible CLI habits in a real run', () => {
  const pb = () => playbook('two.yml', '- hosts: all\n  tasks:\n    - name: first\n      debug: { msg: one }\n    - name: second\n      debug: { msg: "{{ greeting }} {{ count + 1 }}" }\n');

  it('--start-at-task runs from the named task; -e @FILE (relative path) gives its variables', async () => {
    const vars = join(dir, 'vars.yml');
    writeFileSync(vars, 'greeting: hello\ncount: 41\n');
    const r = await json(['run', pb(), ...conn(), '-l', 'st-healthy', '--start-at-task', 'second', '-e', `@${relative(process.cwd(), vars)}`]);
    expect(r.code).toBe(0);
    expect(r.hosts[0]!.tasks!.map((t) => [t.task, t.msg])).toEqual([['second', 'hello 42']]);
  }, 60_000);

  it('--start-at-task with a name no task has is exit 1 before any host, listing the names', async () => {
    const r = await runCli(['run', pb(), ...conn(), '--start-at-task', 'third', '-e', 'greeting=x', '-e', 'count=1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--start-at-task "third": no task of .*two\.yml has that name \(tasks: "first", "second"\)/);
  });
});

describe('demo keeps its run store under $XDG_STATE_HOME, not in the working directory', () => {
  it('the store is $XDG_STATE_HOME/fleetmend/demo', async () => {
    const xdg = join(dir, 'xdg');
    const inCwd = join(process.cwd(), '.fleetmend-state');
    const hadOne = existsSync(inCwd);
    const r = await runCli(['demo', '--scenario', 'healthy', '--hosts', '2', '--interval', '0.2', '-o', join(dir, 'reports')], { ...process.env, XDG_STATE_HOME: xdg });
    // the healthy fleet has no incident: the story stops after its first sweep (exit 1), recorded
    expect(r.stderr).toMatch(/the first sweep found no host/);
    expect(existsSync(join(xdg, 'fleetmend', 'demo', 'fleetmend.db'))).toBe(true);
    expect(existsSync(inCwd)).toBe(hadOne);
  }, 60_000);
});
