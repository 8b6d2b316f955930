/**
 * A fleet of simulated hosts, each a real SSH endpoint on loopback, plus the files a runner
 * needs: an Ansible YAML inventory, an OpenSSH known_hosts and the client key.
 *
 * Addressing: by default every host is 127.0.0.1 with its own OS-assigned port (no port
 * collisions with anything else on the machine, works everywhere). `addressing: 'loopback'`
 * gives each host its own address 127.77.X.Y on one shared port (Linux routes all of
 * 127.0.0.0/8 to lo), closer to a real fleet (`ansible_host` differs per host).
 */
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { realClock, type SimClock } from './clock.js';
import { defaultRegistry } from './commands/index.js';
import type { Fault } from './faults.js';
import type { CommandHandler } from './shell.js';
import { SimMachine } from './machine.js';
import { SCENARIOS, buildScenario, type Scenario, type ScenarioHost } from './scenarios.js';
import { HostServer, fingerprintOf, generateHostKey, reservePort, type HostKey } from './server.js';
import type { SimKernel } from './kernel.js';
import { foldHosts } from '../report/hostset.js';

export interface FleetOptions {
  /** Host count; the scenario's special hosts are always kept, the rest are healthy. */
  hosts?: number;
  scenario?: string | Scenario;
  /** Directory for inventory.yml, known_hosts and the client key (created). */
  dir: string;
  clock?: SimClock;
  /** Multiplies stalled-host login delays (0 disables them; tests use small values). */
  loginDelayScale?: number;
  /** Reboot / panic downtime in ms (default 3000). */
  downtimeMs?: number;
  seed?: string;
  addressing?: 'ports' | 'loopback';
  /** Extra faults by host name (added to the scenario's). */
  faults?: Record<string, Fault[]>;
  /** Start this many hosts at once (default 200). */
  startConcurrency?: number;
  /** Command handlers added or replaced on every host (a test's program that hangs on one host). */
  commands?: Record<string, CommandHandler>;
}

export interface SimHost {
  name: string;
  address: string;
  port: number;
  /** `SHA256:…` of the key written to known_hosts. */
  hostKeyFingerprint: string;
  /** The machine: filesystem, users, installed commands. */
  machine: SimMachine;
  /** The audit model (read it to compare with facts; mutate it to change the host). */
  model: SimKernel;
  faults: Fault[];
  note: string;
  group: string;
  server: HostServer;
  /** Present a new host key (known_hosts now mismatches). */
  rekey(): void;
  /** Drop every open connection of the host. */
  dropConnections(): void;
}

export interface Fleet {
  hosts: SimHost[];
  scenario: string;
  dir: string;
  inventoryPath: string;
  knownHostsPath: string;
  clientKeyPath: string;
  clientPublicKey: string;
  host(name: string): SimHost;
  stop(): Promise<void>;
}

export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const scenario = typeof opts.scenario === 'object' ? opts.scenario : SCENARIOS[opts.scenario ?? 'incident'];
  if (!scenario) throw new Error(`unknown scenario "${String(opts.scenario)}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
  const clock = opts.clock ?? realClock;
  const scale = opts.loginDelayScale ?? 1;
  const planned = buildScenario(scenario, { ...(opts.hosts !== undefined ? { hosts: opts.hosts } : {}), ...(opts.seed ? { seed: opts.seed } : {}), downtimeMs: opts.downtimeMs ?? 3000 });
  await mkdir(opts.dir, { recursive: true });
  const client = generateHostKey('fleetmend-sim');
  const clientKeyPath = path.join(opts.dir, 'client_key');
  await writeFile(clientKeyPath, client.private, { mode: 0o600 });
  await chmod(clientKeyPath, 0o600);
  await writeFile(`${clientKeyPath}.pub`, client.public.trim() + '\n');
  const registry = defaultRegistry();
  for (const [name, handler] of Object.entries(opts.commands ?? {})) registry.register(name, handler);
  const loopback = opts.addressing === 'loopback';
  const sharedPort = loopback ? await reservePort('127.77.0.1') : 0;

  const hosts: SimHost[] = [];
  const started: HostServer[] = [];
  const originalKeys = new Map<string, HostKey>();
  const build = (h: ScenarioHost, index: number): SimHost => {
    const faults = [...h.faults, ...(opts.faults?.[h.spec.name] ?? [])];
    // the garbage is printed by the machine's auditctl: a fault given by option must reach it too
    const spec = faults.some((f) => f.kind === 'auditctl-garbage') ? { ...h.spec, auditctl: 'garbage' as const } : h.spec;
    const machine = new SimMachine(spec, clock, `${scenario.name}:${opts.seed ?? ''}:${h.spec.name}`);
    const key = generateHostKey();
    originalKeys.set(h.spec.name, key);
    const address = loopback ? `127.77.${Math.floor((index + 1) / 250)}.${((index + 1) % 250) + 1}` : '127.0.0.1';
    const server = new HostServer({ machine, registry, hostKey: key, clientPublicKey: client.public, faults, address, port: sharedPort, loginDelayScale: scale });
    const host: SimHost = {
      name: h.spec.name,
      address,
      port: 0,
      hostKeyFingerprint: fingerprintOf(key.public),
      machine,
      model: machine.kernel,
      faults,
      note: h.note,
      group: h.spec.role,
      server,
      rekey: () => server.rekey(),
      dropConnections: () => server.dropAll(),
    };
    return host;
  };
  planned.forEach((h, i) => hosts.push(build(h, i)));
  try {
    const limit = opts.startConcurrency ?? 200;
    // A down host only reserves a free port and closes it again: started last, so the OS cannot
    // hand that port to a listener of this fleet (seen at 1,000 hosts: the down host answered).
    const isDown = (h: SimHost) => h.faults.some((f) => f.kind === 'down');
    const order = [...hosts.filter((h) => !isDown(h)), ...hosts.filter(isDown)];
    for (let i = 0; i < order.length; i += limit) {
      await Promise.all(
        order.slice(i, i + limit).map(async (h) => {
          await h.server.start();
          started.push(h.server);
          h.port = h.server.port;
        }),
      );
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
  const timers: NodeJS.Timeout[] = [];
  for (const h of hosts) {
    if (h.faults.some((f) => f.kind === 'hostkey-changed')) h.server.rekey();
    for (const f of h.faults) {
      if (f.kind === 'panic-reboot') timers.push(setTimeout(() => h.model.panic('backlog limit exceeded'), f.afterMs));
    }
  }

  const inventoryPath = path.join(opts.dir, 'inventory.yml');
  const knownHostsPath = path.join(opts.dir, 'known_hosts');
  await writeFile(knownHostsPath, hosts.map((h) => `${knownHostsHost(h.address, h.port)} ${(originalKeys.get(h.name) as HostKey).public}`).join('\n') + '\n');
  await writeFile(inventoryPath, inventoryYaml(hosts, clientKeyPath));
  const byName = new Map(hosts.map((h) => [h.name, h]));
  let stopped = false;
  return {
    hosts,
    scenario: scenario.name,
    dir: opts.dir,
    inventoryPath,
    knownHostsPath,
    clientKeyPath,
    clientPublicKey: client.public.trim(),
    host(name) {
      const h = byName.get(name);
      if (!h) throw new Error(`no simulated host "${name}"`);
      return h;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await Promise.all(hosts.map((h) => h.server.stop()));
    },
  };
}

/** OpenSSH writes non-22 ports as `[addr]:port`. */
export function knownHostsHost(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** Ansible YAML inventory: every host under `all.hosts` with its vars, groups by distro and role. */
export function inventoryYaml(hosts: SimHost[], clientKeyPath: string): string {
  const all: Record<string, Record<string, unknown>> = {};
  const groups: Record<string, { hosts: Record<string, null> }> = {};
  const addTo = (g: string, name: string) => {
    const group = (groups[g.replace(/[^A-Za-z0-9_]/g, '_')] ??= { hosts: {} });
    group.hosts[name] = null;
  };
  for (const h of hosts) {
    const spec = h.machine.spec;
    const vars: Record<string, unknown> = {
      ansible_host: h.address,
      ansible_port: h.port,
      ansible_user: spec.user,
      ansible_ssh_private_key_file: clientKeyPath,
    };
    if (spec.user !== 'root') {
      vars.ansible_become = true;
      if (!spec.sudo.nopasswd) vars.ansible_become_password = spec.sudo.password;
    }
    all[h.name] = vars;
    addTo(spec.flavour, h.name);
    addTo(spec.role, h.name);
  }
  return stringify({ all: { hosts: all, children: groups } }, { nullStr: '' });
}

export interface RunSimOptions {
  hosts?: number;
  scenario?: string;
  /** Where to copy the inventory (besides `dir`). */
  inventoryOut?: string;
  /** Where the fleet's files go (default: a new temporary directory). */
  dir?: string;
  seed?: string;
  loginDelayScale?: number;
  addressing?: 'ports' | 'loopback';
  log?: (line: string) => void;
  /** Alternative to `log`: a stream-like sink (the CLI passes its stdout). */
  out?: { write(text: string): unknown };
  /** Resolves when the simulator should stop (default: SIGINT/SIGTERM). */
  until?: Promise<void>;
}

/** Hosts sharing a note beyond this many are one folded line (`app-[01-17] (17 hosts)`). */
const FOLD_FROM = 4;

/**
 * Every host the simulator started, one line each (name, address:port, what it simulates),
 * except that hosts with the same note are folded into one line once there are FOLD_FROM of
 * them: a 300-host `healthy` fleet is one line, and no host is left out (issue 24 item 8).
 */
export function hostListing(hosts: readonly { name: string; address: string; port: number; note: string }[]): string[] {
  const byNote = new Map<string, string[]>();
  for (const h of hosts) byNote.set(h.note, [...(byNote.get(h.note) ?? []), h.name]);
  const lines: string[] = [];
  for (const h of hosts) {
    const same = byNote.get(h.note)!;
    if (same.length < FOLD_FROM) lines.push(`  ${h.name.padEnd(22)} ${`${h.address}:${h.port}`.padEnd(22)} ${h.note}`);
    else if (same[0] === h.name) lines.push(`  ${foldHosts(same)} (${same.length} hosts, ports in the inventory)  ${h.note}`);
  }
  return lines;
}

/** `fleetmend sim`: start, print where things are, wait for SIGINT/SIGTERM, stop. */
export async function runSimCommand(opts: RunSimOptions): Promise<void> {
  const sink = opts.out ?? process.stdout;
  const log = opts.log ?? ((l: string) => void sink.write(`${l}\n`));
  const t0 = Date.now();
  const dir = opts.dir ?? (await mkdtemp(path.join(tmpdir(), 'fleetmend-sim-')));
  const fleet = await startFleet({
    dir,
    ...(opts.hosts !== undefined ? { hosts: opts.hosts } : {}),
    ...(opts.scenario !== undefined ? { scenario: opts.scenario } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.loginDelayScale !== undefined ? { loginDelayScale: opts.loginDelayScale } : {}),
    ...(opts.addressing !== undefined ? { addressing: opts.addressing } : {}),
  });
  if (opts.inventoryOut) {
    await mkdir(path.dirname(path.resolve(opts.inventoryOut)), { recursive: true });
    await writeFile(opts.inventoryOut, await readFile(fleet.inventoryPath, 'utf8'));
  }
  log(`simulator: ${fleet.hosts.length} hosts (scenario ${fleet.scenario}) started in ${Date.now() - t0} ms`);
  log(`inventory:   ${opts.inventoryOut ?? fleet.inventoryPath}`);
  log(`known_hosts: ${fleet.knownHostsPath}`);
  log(`client key:  ${fleet.clientKeyPath}`);
  for (const line of hostListing(fleet.hosts)) log(line);
  log('press Ctrl-C to stop');
  const until =
    opts.until ??
    new Promise<void>((resolve) => {
      const done = () => {
        process.off('SIGINT', done);
        process.off('SIGTERM', done);
        resolve();
      };
      process.on('SIGINT', done);
      process.on('SIGTERM', done);
    });
  await until;
  await fleet.stop();
  log('simulator stopped');
}
