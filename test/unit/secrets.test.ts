/**
 * src/secrets: the one secret-name rule, the taint a value derived from a secret keeps across
 * tasks and plays, a secret taken apart in a template (issue 21: `{{ ansible_become_password[0] }}
 * {{ ansible_become_password[1] }} ...`), and the host state a distributed run sends.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { playJobData } from '../../src/distributed/coordinator.js';
import type { TaskResult } from '../../src/results/index.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { runPlaybook } from '../../src/playbook/run.js';
import { playOneHost } from '../../src/playbook/host-play.js';
import type { HostState, PlaybookHost } from '../../src/playbook/protocol.js';
import { isSecretName, maskSecretVars, redact, SECRET_MASK, SecretValues, wireState } from '../../src/secrets/index.js';
import { FakeHost, FakeTransport } from '../fixtures/playbooks/fake-host.js';

describe('the secret-name rule (one definition)', () => {
  const secret = [
    'ansible_password', 'ansible_ssh_pass', 'ansible_ssh_password', 'ansible_become_password', 'ansible_become_pass',
    'ansible_ssh_private_key_passphrase', 'vault_passphrase', 'session_pw', 'db_pwd', 'pass', 'DB_PASSWORD', 'dbPassword',
    'smtp_passwd', 'aws_credentials', 'credential', 'vault_token', 'github_token_ro', 'client_secret', 'secret',
    'private_key', 'ssh_private_key', 'api_key', 'apikey', 'API_KEY', 'access_key', 'aws_secret_access_key',
    'signing_key', 'encryption_keys', 'tls_key', 'wifi_psk',
  ];
  const notSecret = [
    'passed', 'pass_count', 'bypass', 'compass', 'passenger', 'backlog_key', 'sort_key', 'cache_key', 'key', 'keys', 'monkey',
    'keyword', 'public_key', 'host_key', 'ansible_ssh_private_key_file', 'ansible_user', 'ansible_host', 'ansible_become',
    'ansible_become_user', 'backlog_limit', 'pwned_count', 'power', 'inventory_hostname',
  ];
  it.each(secret)('%s is a secret', (name) => expect(isSecretName(name)).toBe(true));
  it.each(notSecret)('%s is not a secret', (name) => expect(isSecretName(name)).toBe(false));
  it('the store (redact) and `fleetmend inventory` (maskSecretVars) apply the same rule: vault_token is hidden by both', () => {
    for (const name of secret) {
      expect(redact({ [name]: 'v', keep: 1 }), name).toEqual({ keep: 1 });
      expect(maskSecretVars({ [name]: 'v', keep: 1 }), name).toEqual({ [name]: SECRET_MASK, keep: 1 });
    }
    for (const name of notSecret) expect(maskSecretVars({ [name]: 'v' }), name).toEqual({ [name]: 'v' });
  });
});

// random per test run: no fixture can make a "not contained" pass by accident
const SECRET = `Sx-${randomBytes(6).toString('hex')}`;

/** Ways to take the secret apart in a template, each a debug task of play one. */
const ATTACKS: Record<string, unknown> = {
  'char by char': { debug: { msg: '{{ session_pw[0] }} {{ session_pw[1] }} {{ session_pw[2] }} {{ session_pw[3] }}' } },
  'in a list': { debug: { msg: '{{ [session_pw][0][1] }}' } },
  'of a sum': { debug: { msg: "{{ (session_pw + '')[1] }}" } },
  'by vars key': { debug: { msg: "{{ vars['session_pw'][1] }}" } },
  'by a dynamic key': { debug: { msg: '{{ vars[which][1] }}' } },
  'compared': { debug: { msg: "{{ session_pw == 'a' }} {{ session_pw < 'T' }}" } },
  'its length': { debug: { msg: '{{ len(session_pw) }}' } },
  'debug var': { debug: { var: 'session_pw[1]' } },
  'loop item': { debug: { msg: '{{ item[1] }}' }, loop: '{{ [session_pw] }}' },
  'shell': { shell: 'echo {{ session_pw[1] }}{{ session_pw[2] }}' },
};

const PLAYBOOK = stringify([
  {
    name: 'one',
    hosts: 'all',
    vars: { session_pw: SECRET, which: 'session_pw' },
    tasks: [
      { name: 'copy', set_fact: { copied: '{{ session_pw }}', label: 'plain-label' } },
      { name: 'echo', shell: 'echo {{ session_pw }}', register: 'echoed' },
      { name: 'host takes it apart', shell: "echo {{ session_pw }} | sed 's/./& /g'" },
      { name: 'whole', debug: { msg: 'pw={{ session_pw }} quoted={{ session_pw | quote }}' } },
      ...Object.entries(ATTACKS).map(([name, t]) => ({ name, ...(t as object) })),
    ],
  },
  {
    // session_pw is a var of play one only: here only the taint says `copied` is a secret
    name: 'two',
    hosts: 'all',
    tasks: [
      { name: 'copy printed', debug: { msg: 'copy={{ copied }}' } },
      { name: 'copy char by char', debug: { msg: '{{ copied[0] }}-{{ copied[1] }}-{{ copied[2] }}-{{ copied[3] }}' } },
      { name: 'registered piece', debug: { msg: '{{ echoed.stdout[5] }}{{ echoed.stdout[6] }}' } },
      { name: 'label', debug: { msg: 'label={{ label }}' } },
      { name: 'copy failed', fail: { msg: 'copy was {{ copied }}' } },
    ],
  },
]);

const host: PlaybookHost = { name: 'h1', address: '127.0.0.1', port: 22, vars: {} };
const connect = async () => new FakeTransport(new FakeHost(), 'h1');

async function run(): Promise<Map<string, TaskResult>> {
  const r = await runPlaybook(parsePlaybook('pb.yml', PLAYBOOK), { selectHosts: () => [host], connect });
  return new Map((r.hosts[0]!.tasks ?? []).map((t) => [t.task, t]));
}

describe('taint: a value derived from a secret stays secret', () => {
  it('a secret templated whole outside a command is masked by value, the rest of the output kept', async () => {
    const t = await run();
    expect(t.get('whole')!.msg).toBe(`pw=${SECRET_MASK} quoted=${SECRET_MASK}`);
    expect(t.get('whole')!.warnings).toBeUndefined();
  });

  it('a command that carried a secret to the host has its whole output masked (the host may print it in pieces)', async () => {
    for (const name of ['echo', 'host takes it apart']) {
      const t = (await run()).get(name)!;
      expect(t.stdout, name).toBe(SECRET_MASK);
      expect(t.warnings?.[0], name).toMatch(/^output masked: the command at pb\.yml:\d+ carries the secret 'session_pw' to the host/);
    }
  });

  it.each(Object.keys(ATTACKS))('a secret taken apart (%s): the whole output is masked, with a warning naming it', async (name) => {
    const t = (await run()).get(name)!;
    for (const k of ['msg', 'stdout', 'stderr'] as const) if (t[k] !== undefined) expect(t[k], k).toBe(SECRET_MASK);
    expect(t.warnings?.[0]).toMatch(/^output masked: \{\{ .+ \}\} at pb\.yml:\d+ uses the secret '[\w.]+' in a form masking by value cannot find \(a piece of it, a value computed from it, or shorter than 4 characters\)$/);
  });

  it("a set_fact copy of a play var is masked in the next play, where the var itself is gone", async () => {
    const t = await run();
    expect(t.get('copy printed')!.msg).toBe(`copy=${SECRET_MASK}`);
    expect(t.get('copy failed')!.status).toBe('failed');
    expect(t.get('copy failed')!.msg).toBe(`copy was ${SECRET_MASK}`);
    expect(t.get('copy failed')!.error!.message).not.toContain(SECRET);
  });

  it('a copy or a register of a secret taken apart in a later play masks that output too', async () => {
    const t = await run();
    expect(t.get('copy char by char')!.msg).toBe(SECRET_MASK);
    expect(t.get('copy char by char')!.warnings?.[0]).toMatch(/uses the secret 'copied'/);
    expect(t.get('registered piece')!.msg).toBe(SECRET_MASK);
    expect(t.get('registered piece')!.warnings?.[0]).toMatch(/uses the secret 'echoed'/);
  });

  it('a secret too short to mask by value, templated whole, masks the whole output', async () => {
    const pb = parsePlaybook('short.yml', stringify([{ name: 'p', hosts: 'all', vars: { pin_pw: 'x7z' }, tasks: [{ name: 'pin', debug: { msg: 'pin={{ pin_pw }}' } }] }]));
    const t = (await runPlaybook(pb, { selectHosts: () => [host], connect })).hosts[0]!.tasks![0]!;
    expect(t.msg).toBe(SECRET_MASK);
    expect(t.warnings?.[0]).toMatch(/uses the secret 'pin_pw'/);
  });

  it('only the set_fact names whose template read the secret are tainted', async () => {
    expect((await run()).get('label')!.msg).toBe('label=plain-label');
  });

  it('no character run of the secret appears in any result', async () => {
    const text = JSON.stringify([...(await run()).values()]);
    expect(text).not.toContain(SECRET);
    for (let i = 0; i + 3 <= SECRET.length; i++) expect(text).not.toContain(SECRET.slice(i, i + 3).split('').join(' '));
  });
});

describe('the host state a distributed run sends', () => {
  it('the state after a play records the tainted names; its wire form has no tainted content, secret-named key or known value', async () => {
    const pb = parsePlaybook('pb.yml', PLAYBOOK);
    const reply = await playOneHost(pb, 0, host, { size: 1, hostsInPlay: 1 }, { registered: {}, setFacts: {} }, { connect });
    expect(reply.state.tainted).toEqual(expect.arrayContaining(['copied', 'echoed']));
    expect(reply.state.tainted).not.toContain('label');
    const state: HostState = {
      ...reply.state,
      setFacts: { ...reply.state.setFacts, db_password: 'named-secret', note: 'login pw is Conn-Secret-77' },
    };
    const data = playJobData('run-1', { playIndex: 1, batchIndex: 0, host, batch: { size: 1, hostsInPlay: 1 }, state }, new SecretValues(['Conn-Secret-77']));
    const wire = JSON.stringify(data);
    expect(wire).not.toContain(SECRET);
    expect(wire).not.toContain('named-secret');
    expect(wire).not.toContain('Conn-Secret-77');
    // a tainted name keeps its shape, not its content
    expect(data.state.setFacts).toEqual({ copied: SECRET_MASK, label: 'plain-label', note: `login pw is ${SECRET_MASK}` });
    expect((data.state.registered['echoed'] as Record<string, unknown>)['stdout']).toBe(SECRET_MASK);
    expect((data.state.registered['echoed'] as Record<string, unknown>)['changed']).toBe(true);
    expect(data.state.tainted).toEqual(reply.state.tainted);
    // the state the next job carries was built by the same function
    expect(wireState(state, new SecretValues(['Conn-Secret-77']))).toEqual(data.state);
  });
});
