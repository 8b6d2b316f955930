import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, runCli } from '../helpers/cli.js';
import { distributedTestbed, dumpRedis, stopChild, waitFor, workersReady, type TestWorker } from '../helpers/redis.js';

/**
 * Nothing of a run stays in Redis: after a sweep, after a playbook run, and after a coordinator
 * SIGKILLed mid-run (once the run's short TTL has passed and the workers are done), a scan of
 * every key and every value (strings, hashes, lists, sets, sorted sets, streams) finds no host
 * facts, no task output, no registered value, no playbook text and no secret-named var value.
 */
const bed = distributedTestbed('fm-dist-kept-', 6);
let w: TestWorker;

const marker = (what: string) => `${what}-${Math.random().toString(36).slice(2, 10)}`;

/** Every string in a value (facts, audit status), long enough not to occur by chance. */
function longStrings(v: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof v === 'string' && v.length >= 12) out.add(v);
  else if (Array.isArray(v)) for (const x of v) longStrings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) longStrings(x, out);
  return out;
}

function expectNoneIn(text: string, markers: Iterable<string>): void {
  const found = [...markers].filter((m) => text.includes(m));
  expect(found, `left in Redis:\n${text.slice(0, 2000)}`).toEqual([]);
  // no finished job kept either: BullMQ's completed/failed sets, or a job's hash (its id holds '__')
  expect(text).not.toMatch(/^fleetmend:hosts:(completed|failed|\S+__\S+)$/m);
}

/** A playbook whose every trace is a marker: task names, output, registered and set values, a secret-named play var. */
function markedPlaybook(sleep: number) {
  const m = { task: marker('Task-Name'), out: marker('Task-Output'), fact: marker('Set-Fact'), secret: marker('Db-Password'), plain: marker('Play-Var') };
  const text = `- name: Marked
  hosts: all
  vars:
    db_password: "${m.secret}"
    greeting: "${m.plain}"
  tasks:
    - name: "${m.task}"
      command: { cmd: "echo ${m.out}" }
      register: said
    - name: Keep it
      set_fact: { kept: "${m.fact} {{ said.stdout }} {{ greeting }}" }
- name: Second
  hosts: all
  tasks:
    - name: Show it
      debug: { msg: "{{ kept }}" }
    - name: Slow
      command: { cmd: "sleep ${sleep}" }
`;
  return { markers: Object.values(m), text };
}

describe('distributed mode keeps nothing in Redis after a run', () => {
  beforeAll(async () => {
    w = bed.worker('kept-w', [...bed.common(), '--concurrency', '6', '-v']);
    await workersReady(w);
  }, 30_000);

  it('a sweep: no facts, no audit status, no host left in the events stream', async () => {
    const r = await runCli(['sweep', ...bed.common(), ...bed.coord(), '--samples', '1', '--json', '-q', '--state-dir', join(bed.dir, 'st-sweep')]);
    expect([0, 2], r.stderr).toContain(r.code);
    const doc = JSON.parse(r.stdout) as { hosts: { host: string; status: string; facts?: unknown; audit?: unknown }[] };
    expect(doc.hosts.map((h) => h.status)).toEqual(Array(6).fill('ok'));
    const facts = new Set<string>();
    for (const h of doc.hosts) longStrings([h.facts, h.audit], facts);
    expect(facts.size).toBeGreaterThan(3);
    const dump = await dumpRedis(bed.redis.url);
    expect(dump.keys).toBeGreaterThan(0); // BullMQ's own bookkeeping (meta, events) is there, and scanned
    expectNoneIn(dump.text, facts);
    expectNoneIn(dump.text, doc.hosts.map((h) => h.host));
  }, 60_000);

  it('a playbook run: no playbook text, task output, registered or set values, secret-named play vars', async () => {
    const { markers, text } = markedPlaybook(0);
    const file = join(bed.dir, 'marked.yml');
    writeFileSync(file, text);
    const r = await runCli(['run', file, ...bed.common(), ...bed.coord(), '--json', '-q', '--state-dir', join(bed.dir, 'st-run')]);
    expect(r.code, r.stdout).toBe(0);
    // the run did carry the markers (its output has them), and Redis has none of them
    const out = JSON.stringify(JSON.parse(r.stdout));
    for (const m of markers.slice(0, 3)) expect(out).toContain(m);
    const dump = await dumpRedis(bed.redis.url);
    expectNoneIn(dump.text, [...markers, 'Second', 'node-0']);
  }, 60_000);

  it('a coordinator SIGKILLed mid-run: what it left (run key, results of the hosts in flight) is gone within the run TTL once the workers are done', async () => {
    const { markers, text } = markedPlaybook(3);
    const file = join(bed.dir, 'marked-kill.yml');
    writeFileSync(file, text);
    const coordinator = spawn(process.execPath, [CLI_BIN, 'run', file, ...bed.common(), ...bed.coord(), '-q', '--state-dir', join(bed.dir, 'st-kill')], { stdio: 'ignore' });
    try {
      const from = w.stderr().length;
      const log = () => w.stderr().slice(from);
      await waitFor('play 2 on the worker', () => /take \S+ \(run \S+, play 2/.test(log()), 30_000);
      const during = await dumpRedis(bed.redis.url);
      // the scan sees the run: its playbook key (markers) is there while it runs
      expect(markers.filter((m) => during.text.includes(m)).length).toBeGreaterThan(0);
      process.kill(coordinator.pid!, 'SIGKILL');
      const killedAt = Date.now();
      // the hosts in flight finish on the worker (their results are written for no one)
      const taken = () => (log().match(/take \S+ \(run \S+, play 2/g) ?? []).length;
      await waitFor('the worker to finish the play-2 hosts it took', () => (log().match(/done \S+ \S+, play 2/g) ?? []).length === taken(), 30_000);
      let last = '';
      await waitFor(
        'the run TTL to clear what the coordinator left',
        () => {
          void dumpRedis(bed.redis.url).then((d) => (last = d.text));
          return last !== '' && markers.every((m) => !last.includes(m));
        },
        60_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}:\n${last.slice(0, 3000)}`);
      });
      // within the run key's TTL (30 s) and the result keys' (30 s) of the kill, not 7 days
      expect(Date.now() - killedAt).toBeLessThan(45_000);
      const after = await dumpRedis(bed.redis.url);
      expectNoneIn(after.text, markers);
    } finally {
      if (coordinator.exitCode === null && coordinator.signalCode === null) coordinator.kill('SIGKILL');
    }
    await stopChild(w.child);
  }, 120_000);
});
