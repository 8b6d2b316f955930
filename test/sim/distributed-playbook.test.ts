import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStore } from '../helpers/store.js';
import { runCli } from '../helpers/cli.js';
import { retryFilePath } from '../../src/run/index.js';
import { distributedTestbed, dumpRedis, loseRedisMidRun, stopChild, takenBy, waitFor, workersReady, type TestWorker } from '../helpers/redis.js';

/**
 * Distributed playbook runs (`run --redis`) with a real redis-server, real `fleetmend worker`
 * processes (the built binary) and the simulated fleet over real SSH, compared with local runs
 * of the same playbooks on the same bed.fleet. Every wait is bounded; every process started here is
 * stopped by PID in afterAll.
 */
const bed = distributedTestbed('fm-dist-pb-', 10);

const common = () => bed.common();

function worker(name: string, url = bed.redis.url, args: string[] = common(), env: NodeJS.ProcessEnv = process.env): TestWorker {
  return bed.worker(name, [...args, '--concurrency', '10', '--lock-duration', '2', '-v'], { url, env });
}

const ready = workersReady;

/** Hosts a worker took for one run. */
const takenIn = takenBy;

function playbook(name: string, text: string): string {
  const file = join(bed.dir, name);
  writeFileSync(file, text);
  return file;
}

interface Task {
  play: string;
  task: string;
  status: string;
  changed: boolean;
  msg?: string;
  diff?: unknown[];
}
interface Host {
  host: string;
  status: string;
  worker?: string;
  tasks?: Task[];
  error?: { code: string; message: string };
}
interface Doc {
  run: { id: string; check?: boolean; interrupted?: boolean };
  summary: Record<string, number>;
  hosts: Host[];
  recap: unknown[];
  stopped: { play: string; batch: number; batches: number; reason: string } | null;
}

/** What must be equal between a local and a distributed run (no times, ids or workers). */
function comparable(doc: Doc, withMsg: (t: Task) => boolean = () => true) {
  return {
    summary: doc.summary,
    stopped: doc.stopped,
    recap: doc.recap,
    hosts: [...doc.hosts]
      .sort((a, b) => a.host.localeCompare(b.host))
      .map((h) => ({
        host: h.host,
        status: h.status,
        error: h.error?.code ?? null,
        tasks: (h.tasks ?? []).map((t) => ({ play: t.play, task: t.task, status: t.status, changed: t.changed, ...(withMsg(t) ? { msg: t.msg } : {}) })),
      })),
  };
}

const storedRun = (stateDir: string, id: string) => readStore(stateDir, (store) => store.getRun(id));

async function runBoth(file: string, args: string[], stateDir: string): Promise<{ local: Doc; dist: Doc; distStderr: string }> {
  const l = await runCli(['run', file, ...common(), '--json', '-q', '--state-dir', `${stateDir}-local`, ...args]);
  const d = await runCli(['run', file, ...common(), '--json', '-q', '--state-dir', stateDir, ...bed.coord(), ...args]);
  expect(d.code, d.stderr).toBe(l.code);
  return { local: JSON.parse(l.stdout) as Doc, dist: JSON.parse(d.stdout) as Doc, distStderr: d.stderr };
}

describe('run --redis across fleetmend workers', () => {
  let pa: TestWorker;
  let pb: TestWorker;

  it('Redis unreachable: exit 1 naming the URL before any host is contacted; nothing recorded', async () => {
    const file = playbook('down.yml', '- hosts: all\n  tasks:\n    - debug: { msg: hi }\n');
    const stateDir = join(bed.dir, 'state-down');
    const before = bed.fleet.hosts.reduce((n, h) => n + h.server.stats.connections, 0);
    const r = await runCli(['run', file, ...common(), ...bed.coord('redis://127.0.0.1:1/0'), '--state-dir', stateDir, '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach Redis at redis://127.0.0.1:1/0');
    expect(r.stderr).toContain('[E_QUEUE]');
    expect(bed.fleet.hosts.reduce((n, h) => n + h.server.stats.connections, 0)).toBe(before);
    expect(readStore(stateDir, (store) => store.listRuns())).toHaveLength(0);
  });

  it('a serial rolling playbook stops after the failing batch exactly as locally; later batches are never queued', async () => {
    [pa, pb] = [worker('pa'), worker('pb')];
    await ready(pa, pb);
    const file = playbook(
      'rolling.yml',
      `- name: Rolling
  hosts: all
  serial: 2
  tasks:
    - name: Look
      command: { cmd: "echo looking" }
    - name: Break node-04
      fail: { msg: "node-04 is broken" }
      when: inventory_hostname == "node-04"
    - name: After
      debug: { msg: "after on {{ inventory_hostname }}" }
`,
    );
    const stateDir = join(bed.dir, 'state-rolling');
    const { local, dist } = await runBoth(file, ['-f', '4'], stateDir);
    expect(local.stopped?.batch).toBe(2);
    expect(local.stopped?.reason).toContain('batch 2/5: 1/2 hosts failed');
    expect(comparable(dist)).toEqual(comparable(local));
    const byHost = new Map(dist.hosts.map((h) => [h.host, h]));
    expect(byHost.get('node-04')!.status).toBe('failed');
    // hosts of batches 3-5: recorded skipped, and no worker ever took them
    const taken = [...takenIn(pa, dist.run.id), ...takenIn(pb, dist.run.id)].sort();
    const started = local.hosts.filter((h) => h.status !== 'skipped').map((h) => h.host).sort();
    expect(started).toHaveLength(4);
    expect(started).toContain('node-04');
    expect(taken).toEqual(started);
    const stored = storedRun(stateDir, dist.run.id);
    expect(stored.hosts).toHaveLength(10);
    for (const h of stored.hosts) expect(h.worker ?? null).toEqual(h.status === 'skipped' ? null : expect.stringMatching(/^p[ab]$/));
    expect(stored.hosts.find((h) => h.host === 'node-04')!.tasks!.map((t) => t.status)).toEqual(['changed', 'failed', 'skipped']);
  }, 60_000);

  it('plays in order, handlers and register/set_fact across plays: the same result as a local run', async () => {
    const file = playbook(
      'two-plays.yml',
      `- name: One
  hosts: all
  tasks:
    - name: Register
      command: { cmd: "echo from-play-1" }
      register: first
      notify: Say
    - name: Remember
      set_fact: { marker: "m-{{ inventory_hostname }}" }
    - meta: flush_handlers
    - name: After flush
      debug: { msg: "after the handler" }
  handlers:
    - name: Say
      debug: { msg: "handler ran on {{ inventory_hostname }}" }
- name: Two
  hosts: debian
  tasks:
    - name: Use
      debug: { msg: "{{ first.stdout }} {{ marker }}" }
    - name: Check
      assert: { that: 'first.rc == 0 and first.changed' }
`,
    );
    const { local, dist } = await runBoth(file, ['-l', '~^node-0[1-6]$'], join(bed.dir, 'state-plays'));
    expect(dist.summary.failed ?? 0, JSON.stringify(dist.hosts[0])).toBe(0);
    expect(comparable(dist)).toEqual(comparable(local));
    const one = dist.hosts.find((h) => h.host === 'node-01')!;
    expect(one.tasks!.map((t) => t.task)).toEqual(['Register', 'Remember', 'meta', 'Say', 'After flush', 'Use', 'Check']);
    expect(one.tasks!.find((t) => t.task === 'Use')!.msg).toBe('from-play-1 m-node-01');
    // play 2 ran on the debian hosts only, after play 1
    const debian = dist.hosts.filter((h) => h.tasks!.some((t) => t.task === 'Use')).length;
    expect(debian).toBeGreaterThan(0);
    expect(debian).toBeLessThan(6);
  }, 60_000);

  it('any_errors_fatal across workers: the failing batch finishes on the other workers, then the rollout stops after it', async () => {
    const file = playbook(
      'fatal.yml',
      `- name: Fatal
  hosts: all
  serial: 3
  any_errors_fatal: true
  tasks:
    - name: Break node-01
      fail: { msg: "node-01 is broken" }
      when: inventory_hostname == "node-01"
    - name: Slow
      command: { cmd: "sleep 1" }
    - name: Last
      debug: { msg: "done" }
`,
    );
    const stateDir = join(bed.dir, 'state-fatal');
    const r = await runCli(['run', file, ...common(), '-l', '~^node-0[1-9]$', '--json', '-q', '--state-dir', stateDir, ...bed.coord()]);
    expect(r.code, r.stderr).toBe(2);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.stopped?.batch).toBe(1);
    expect(doc.stopped?.reason).toContain('any_errors_fatal');
    const first = doc.hosts.find((h) => h.host === 'node-01')!;
    expect(first.status).toBe('failed');
    const batch1 = doc.hosts.filter((h) => h.status !== 'skipped');
    expect(batch1).toHaveLength(3);
    // the others of batch 1 ran on their workers to the end: nothing told them to stop mid-play
    for (const h of batch1.filter((x) => x.host !== 'node-01')) {
      expect(h.tasks!.map((t) => t.status)).toEqual(['skipped', 'changed', 'ok']);
    }
    const taken = [...takenIn(pa, doc.run.id), ...takenIn(pb, doc.run.id)].sort();
    expect(taken).toEqual(batch1.map((h) => h.host).sort());
    expect(doc.hosts.filter((h) => h.status === 'skipped')).toHaveLength(6);
  }, 60_000);

  it('-f is the limit across all workers: -f 1 runs one host at a time although two workers are idle', async () => {
    const file = playbook('forks.yml', '- hosts: all\n  tasks:\n    - command: { cmd: "sleep 1" }\n');
    const t0 = Date.now();
    const r = await runCli(['run', file, ...common(), '-l', '~^node-0[1-3]$', '-f', '1', '--json', '-q', ...bed.coord(), '--state-dir', join(bed.dir, 'state-forks')]);
    const wall = Date.now() - t0;
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Doc).summary.changed).toBe(3);
    // three 1 s hosts, one at a time: at least 3 s (in parallel they take ~1 s)
    expect(wall).toBeGreaterThanOrEqual(3000);
  }, 60_000);

  it('Redis going away mid-run: the run ends interrupted (exit 130), recorded, with a retry file', async () => {
    const own = await bed.ownRedis('redis-lost');
    const w = worker('lost-w', own.url, [...common(), '--concurrency', '2']);
    await ready(w);
    const file = playbook('lost.yml', '- hosts: all\n  serial: 2\n  tasks:\n    - command: { cmd: "sleep 5" }\n');
    const stateDir = join(bed.dir, 'state-lost');
    const run = runCli(['run', file, ...common(), '-l', '~^node-0[1-4]$', ...bed.coord(own.url), '--redis-timeout', '2', '--json', '-q', '--state-dir', stateDir]);
    const { result: r, endedAfterMs } = await loseRedisMidRun(own, () => takenBy(w).length > 0, run);
    expect(endedAfterMs).toBeLessThan(15_000);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+\/0 unreachable for 2 s: the run ends interrupted/);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.run.interrupted).toBe(true);
    expect(doc.hosts.map((h) => h.status)).toEqual(['interrupted', 'interrupted', 'interrupted', 'interrupted']);
    expect(storedRun(stateDir, doc.run.id).status).toBe('interrupted');
    expect(readFileSync(retryFilePath(stateDir, storedRun(stateDir, doc.run.id).run), 'utf8').trim().split('\n')).toHaveLength(4);
    // its Redis is gone: SIGTERM would wait for it, so the worker is killed after 1 s
    await stopChild(w.child, 1000);
  }, 60_000);

  it('check mode with --diff: changes predicted and shown, nothing changed on the hosts', async () => {
    const hosts = ['node-01', 'node-02', 'node-03'];
    const state = () =>
      hosts.map((h) => {
        const m = bed.fleet.host(h).machine;
        return { settings: { ...m.kernel.settings }, rules: m.fs.list('/etc/audit/rules.d') };
      });
    const before = state();
    const r = await runCli(['run', join(process.cwd(), 'playbooks/raise-backlog-limit.yml'), ...common(), '-l', hosts.join(':'), '-e', 'backlog_limit=16384', '--check', '--diff', '--json', '-q', ...bed.coord(), '--state-dir', join(bed.dir, 'state-check')]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.run.check).toBe(true);
    expect(doc.hosts).toHaveLength(3);
    for (const h of storedRun(join(bed.dir, 'state-check'), doc.run.id).hosts) expect(h.worker).toMatch(/^p[ab]$/);
    for (const h of doc.hosts) {
      const set = h.tasks!.find((t) => t.task.startsWith('Set and persist'))!;
      expect(set.status, JSON.stringify(set)).toBe('changed');
      expect(JSON.stringify(set.diff)).toContain('16384');
    }
    expect(state()).toEqual(before);
    expect(before[0]!.settings.backlogLimit).toBe(8192);
  }, 60_000);

  it('no secret reaches Redis: become/login passwords, secret extra vars and what a task printed of them', async () => {
    const own = await bed.ownRedis('redis-secrets');
    const secrets = { ssh: 'Ssh-Pw-7f3a9e1c', become: 'Become-Pw-2b8d4c6e', env: 'Env-Become-9a1f5d3b', token: 'Api-Tok-5e8c1a7d' };
    const inv = join(bed.dir, 'inventory-secrets.yml');
    const text = readFileSync(bed.fleet.inventoryPath, 'utf8').replace(/(\n\s+)ansible_user: (\S+)/g, `$1ansible_user: $2$1ansible_password: '${secrets.ssh}'$1ansible_become_password: '${secrets.become}'`);
    expect(text).toContain(secrets.become);
    writeFileSync(inv, text);
    const env = { ...process.env, FLEETMEND_BECOME_PASSWORD: secrets.env };
    // the worker has its own copy of the secret extra var; the coordinator's is never sent
    const w = worker('sec', own.url, ['-i', inv, '--known-hosts', bed.fleet.knownHostsPath, '-e', `api_token=${secrets.token}`], env);
    await ready(w);
    const file = playbook(
      'secrets.yml',
      `- name: With secrets
  hosts: all
  become: true
  tasks:
    - name: Print the token
      command: { cmd: "echo token={{ api_token }}" }
      register: printed
    - name: Keep it
      set_fact: { copied: "{{ api_token }}", login_copy: "{{ ansible_become_password }}" }
- name: Again
  hosts: all
  tasks:
    - name: Read it back
      debug: { msg: "{{ printed.stdout }} / {{ copied }} / {{ login_copy }}" }
    - name: Slow, so Redis is scanned while the run's keys and jobs are there
      command: { cmd: "sleep 2" }
`,
    );
    const stateDir = join(bed.dir, 'state-secrets');
    const running = runCli(['run', file, '-i', inv, '--known-hosts', bed.fleet.knownHostsPath, '-l', '~^node-0[1-4]$', '-e', `api_token=${secrets.token}`, ...bed.coord(own.url), '--json', '-q', '--state-dir', stateDir], env);
    // mid-run: the run's playbook key and the play-2 jobs (with the host state) are in Redis
    await waitFor('play 2 on the worker', () => /take \S+ \(run \S+, play 2/.test(w.stderr()), 20_000);
    const during = await dumpRedis(own.url);
    const r = await running;
    expect(r.code, r.stdout).toBe(0);
    expect(r.stderr).toContain('extra var(s) api_token not sent to the workers');
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.hosts).toHaveLength(4);
    for (const h of storedRun(stateDir, doc.run.id).hosts) expect(h.worker).toBe('sec');
    for (const h of doc.hosts) {
      // the worker ran with the token (its own -e) and masked it on the way back; play 2 read
      // values derived from secrets (src/secrets/taint.ts), so its output is masked whole
      expect(h.tasks!.map((t) => t.status)).toEqual(['changed', 'ok', 'ok', 'changed']);
      expect(h.tasks![0]!.stdout).toBe('********');
      expect(h.tasks![2]!.msg).toBe('********');
    }
    expect(during.text).toContain('Print the token'); // the scan sees the run's playbook key
    expect(during.text).toMatch(/copied\W+\*{8}/); // and a play-2 job's host state
    const after = await dumpRedis(own.url);
    expect(after.text).not.toContain('node-01'); // nothing of the run is kept (distributed-nothing-kept.test.ts)
    for (const dump of [during, after]) for (const s of Object.values(secrets)) expect(dump.text).not.toContain(s);
    await stopChild(w.child);
  }, 60_000);

  it('apply redelivery: a worker SIGKILLed mid-host; another runs the play again, the applied change re-runs as ok, the host is recorded once', async () => {
    const file = playbook(
      'apply.yml',
      `- name: Apply
  hosts: all
  become: true
  tasks:
    - name: Raise the backlog limit
      auditctl: { backlog_limit: 12000 }
    - name: Slow
      command: { cmd: "sleep 4" }
`,
    );
    const host = 'node-09';
    expect(bed.fleet.host(host).machine.kernel.settings.backlogLimit).toBe(8192);
    const stateDir = join(bed.dir, 'state-apply');
    const run = runCli(['run', file, ...common(), '-l', host, ...bed.coord(), '--json', '-q', '--state-dir', stateDir]);
    const holder = () => [pa, pb].find((w) => new RegExp(`take ${host} \\(run`).test(w.stderr()));
    await waitFor(`a worker to take ${host}`, () => holder() !== undefined, 20_000);
    await waitFor(`${host}'s limit to be raised`, () => bed.fleet.host(host).machine.kernel.settings.backlogLimit === 12000, 20_000);
    const dead = holder()!;
    const other = dead === pa ? pb : pa;
    process.kill(dead.child.pid!, 'SIGKILL');
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(takenIn(other, doc.run.id)).toEqual([host]);
    const h = doc.hosts.find((x) => x.host === host)!;
    // the redelivered play found the limit already raised: ok, not a second change
    expect(h.tasks!.map((t) => [t.task, t.status])).toEqual([
      ['Raise the backlog limit', 'ok'],
      ['Slow', 'changed'],
    ]);
    expect(bed.fleet.host(host).machine.kernel.settings.backlogLimit).toBe(12000);
    const stored = storedRun(stateDir, doc.run.id);
    expect(stored.hosts).toHaveLength(1);
    expect(stored.hosts[0]!.worker).toBe(other.name);
    expect(stored.hosts[0]!.tasks).toHaveLength(2);
    expect(stored.pending).toEqual([]);
  }, 60_000);
  it('--resume of a distributed run: the hosts already done are skipped, the failed one runs again on a worker', async () => {
    const file = playbook(
      'resume.yml',
      `- hosts: all
  tasks:
    - name: Work
      command: { cmd: "echo working" }
    - name: Break the chosen host
      fail: { msg: "{{ inventory_hostname }} is broken" }
      when: inventory_hostname == (broken | default("none"))
`,
    );
    const stateDir = join(bed.dir, 'state-resume');
    const limit = ['-l', '~^node-0[1-4]$'];
    const first = await runCli(['run', file, ...common(), ...limit, '-e', '{"broken":"node-03"}', ...bed.coord(), '--json', '-q', '--state-dir', stateDir]);
    expect(first.code, first.stderr).toBe(2);
    const d1 = JSON.parse(first.stdout) as Doc;
    expect(d1.hosts.find((h) => h.host === 'node-03')!.status).toBe('failed');
    expect(readFileSync(retryFilePath(stateDir, storedRun(stateDir, d1.run.id).run), 'utf8').trim().split('\n')).toEqual(['node-03']);
    // the operator fixed node-03: resume the run without the breakage
    const second = await runCli(['run', file, ...common(), ...limit, '--resume', d1.run.id, ...bed.coord(), '--json', '-q', '--state-dir', stateDir]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain(`resume ${d1.run.id}: 3 host(s) done before, skipped (not re-checked: through a coordinator the hosts are the workers' to read)`);
    const d2 = JSON.parse(second.stdout) as Doc;
    expect(d2.hosts.map((h) => [h.host, h.status])).toEqual([['node-03', 'changed']]);
    expect([...takenIn(pa, d2.run.id), ...takenIn(pb, d2.run.id)]).toEqual(['node-03']);
    const stored = storedRun(stateDir, d2.run.id);
    expect(stored.run.resumed_from).toBe(d1.run.id);
    expect(stored.hosts.map((h) => h.host)).toEqual(['node-03']);
  }, 60_000);

  it('SIGTERM on a worker mid-play: it finishes the hosts it holds and exits 0; the next batch goes to the other worker; each host recorded once', async () => {
    const own = await bed.ownRedis('redis-term');
    const [ta, tb] = [worker('term-a', own.url), worker('term-b', own.url)];
    await ready(ta, tb);
    const file = playbook('term.yml', '- hosts: all\n  serial: 2\n  tasks:\n    - name: Slow\n      command: { cmd: "sleep 3" }\n');
    const stateDir = join(bed.dir, 'state-term');
    const run = runCli(['run', file, ...common(), '-l', '~^node-0[1-4]$', ...bed.coord(own.url), '--json', '-q', '--state-dir', stateDir]);
    const holder = () => [ta, tb].find((w) => /take \S+ \(run/.test(w.stderr()));
    await waitFor('a worker to take a host', () => holder() !== undefined, 20_000);
    const stopping = holder()!;
    const other = stopping === ta ? tb : ta;
    const exited = new Promise<number | null>((r) => stopping.child.once('exit', (code) => r(code)));
    process.kill(stopping.child.pid!, 'SIGTERM');
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(await exited).toBe(0);
    expect(stopping.stderr()).toContain('stopping: finishing the hosts in flight');
    const heldByStopping = takenIn(stopping, doc.run.id);
    expect(heldByStopping.length).toBeGreaterThan(0);
    expect(stopping.stderr()).toContain(`stopped after ${heldByStopping.length} host(s)`);
    // what it held it finished itself (no redelivery); everything after went to the other worker
    const byOther = takenIn(other, doc.run.id);
    expect(byOther.filter((h) => heldByStopping.includes(h))).toEqual([]);
    expect([...heldByStopping, ...byOther].sort()).toEqual(['node-01', 'node-02', 'node-03', 'node-04']);
    const stored = storedRun(stateDir, doc.run.id);
    expect(stored.hosts).toHaveLength(4);
    for (const h of stored.hosts) {
      expect(h.status).toBe('changed');
      expect(h.worker).toBe(heldByStopping.includes(h.host) ? stopping.name : other.name);
    }
    await stopChild(other.child);
  }, 60_000);
});
