/**
 * A fleet of real OpenSSH servers (Debian's /usr/sbin/sshd) for integration tests and the
 * benchmark. Needs root (throwaway account, sudoers file, network namespaces).
 *
 * Network shape:
 *  - mode 'loopback' (default): sshd processes in the root network namespace, one a host, each
 *    on `ListenAddress 127.R.a.b:PORT`, one distinct loopback address per host. The test
 *    process itself can dial them (in-process ssh2 client).
 *  - mode 'netns': the hosts' sshds inside a private network namespace, each on its
 *    `127.x.y.z:22` of that namespace. Only clients started through
 *    `fleet.exec()` / `fleet.wrapArgv()` (`ip netns exec NS ...`) can reach the hosts.
 *  - `jump: true` (implies 'netns'): additionally a bastion reachable from the root namespace at
 *    127.R.255.1:PORT. Each connection to it is handed to `sshd -i` started *inside* the
 *    namespace, so its TCP forwards originate there; the hosts' sockets exist only in the
 *    namespace, which is what makes "only the bastion can reach the target" hold for real.
 *
 * Every host has its own sshd, started in a private mount namespace where the host's fake root
 * is mounted over /etc/audit, the auditd unit directories, /var/log and /proc (mountns.ts): a
 * login reads the host's files at their real paths, with the account's plain /bin/bash as
 * login shell and nothing between it and the command, as on a real host. The audit tools
 * themselves are played by the scripts in fakes.ts, keyed by $SSH_CONNECTION.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { auditctlScript, augenrulesScript, dmesgScript, journalctlScript, psScript, systemctlScript } from './sshd-fleet/fakes.js';
import { buildNsLayout, hostMountScript } from './sshd-fleet/mountns.js';
import { defaultAuditState, mergeAuditState, readHostState, writeHostState, type FakeAuditState } from './sshd-fleet/state.js';
import {
  createNetns,
  createUser,
  killFleetProcesses,
  mustRun,
  reapStaleFleets,
  registryRemove,
  registryWrite,
  run,
  setUserPassword,
  teardownSync,
  writeSudoers,
  type RegistryEntry,
  type RunResult,
  type SudoMode,
} from './sshd-fleet/system.js';

export type { FakeAuditState, KernelLogLine } from './sshd-fleet/state.js';
export { defaultAuditState } from './sshd-fleet/state.js';
export type { RunResult, SudoMode } from './sshd-fleet/system.js';
export { run } from './sshd-fleet/system.js';

export const SSHD_PATH = '/usr/sbin/sshd';

/** Why the real-sshd suite cannot run here, or null when it can. */
export function sshdUnavailableReason(): string | null {
  if (!existsSync(SSHD_PATH)) return `${SSHD_PATH} is missing (apt-get install -y openssh-server)`;
  if (process.getuid?.() !== 0) return 'the real-sshd fleet needs root (account, sudoers, network namespaces)';
  for (const tool of ['/usr/bin/ssh-keygen', '/usr/sbin/useradd', '/usr/bin/sudo', '/usr/sbin/visudo', '/usr/bin/unshare']) {
    if (!existsSync(tool)) return `${tool} is missing`;
  }
  return null;
}

export interface HostKey {
  /** `ssh-ed25519` */
  type: string;
  /** Base64 key blob as in a .pub file / known_hosts line. */
  base64: string;
  /** OpenSSH fingerprint, `SHA256:...` (unpadded base64). */
  fingerprint: string;
  privateKeyPath: string;
}

export interface FleetHost {
  index: number;
  /** Inventory name, `h001`... */
  name: string;
  address: string;
  port: number;
  /** How OpenSSH names it in known_hosts: `addr`, or `[addr]:port` off port 22. */
  knownHostsName: string;
  hostKey: HostKey;
  /** The sourceable key=value state file the fakes read and write. */
  stateFile: string;
  stateDir: string;
  /** The host's fake root (`<root>/etc/audit/...`), mounted at / in its sshd's namespace. */
  rootDir: string;
  /** PID of the host's own sshd (0 for the bastion, started per connection). */
  sshdPid: number;
}

export interface SshdFleetOptions {
  hosts: number;
  /** Parent directory for the fleet's temp dir (default os.tmpdir()). */
  dir?: string;
  mode?: 'loopback' | 'netns';
  /** Adds a bastion and puts the hosts where only it can reach them (forces mode 'netns'). */
  jump?: boolean;
  /** Hosts sharing one host key, 1..16 (1 gives every host its own); each host has its own sshd. */
  hostsPerSshd?: number;
  /** The test user's sudo rule (default 'nopasswd'); change later with setSudo(). */
  sudo?: SudoMode;
  /** Give the account a password (default true); false leaves `*` (key-only, not locked). */
  password?: boolean;
  /** Per-host audit state on top of defaultAuditState(). */
  state?: (host: { index: number; name: string; address: string }) => Partial<FakeAuditState>;
  /** Adds `ansible_become: true` to every host of the inventory. */
  become?: boolean;
  /** Keep the temp dir after stop() (also FM_SSHD_KEEP=1), for debugging. */
  keep?: boolean;
  logLevel?: 'INFO' | 'VERBOSE' | 'DEBUG1' | 'DEBUG3';
}

export interface SshdFleet {
  hosts: FleetHost[];
  mode: 'loopback' | 'netns';
  /** Network namespace of the hosts (netns mode / jump), else null. */
  netns: string | null;
  bastion: FleetHost | null;
  userName: string;
  uid: number;
  /** The account's password (random), or null when password: false. */
  password: string | null;
  clientKeyPath: string;
  rsaKeyPath: string;
  encryptedKeyPath: string;
  passphrase: string;
  /** `ssh-ed25519 AAAA...` lines of the three client keys, as in authorized_keys. */
  clientPublicKeys: { ed25519: string; rsa: string; encrypted: string };
  knownHostsPath: string;
  /** Ansible-style YAML inventory (group `sshd_fleet`). */
  inventoryPath: string;
  /** OpenSSH client config naming every host (and `bastion`), for `ssh -F`. */
  sshConfigPath: string;
  dir: string;
  binDir: string;
  sshdPids: number[];
  /** argv prefixed to run inside the fleet's namespace (identity in loopback mode). */
  wrapArgv(argv: readonly string[]): string[];
  /** `sh -c cmd` where the hosts are reachable (inside the namespace in netns mode). */
  exec(cmd: string, opts?: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** `ssh` argv for the real OpenSSH client to run `command` on a host. */
  sshArgv(host: FleetHost | string, command: string): string[];
  /** Changes a host's state; `files` are written over the fake root (other files stay). */
  setState(host: FleetHost | string, patch: Partial<FakeAuditState>): Promise<void>;
  readState(host: FleetHost | string): Promise<Omit<FakeAuditState, 'files' | 'statusText'>>;
  readHostFile(host: FleetHost | string, path: string): Promise<string | null>;
  setSudo(mode: SudoMode): Promise<void>;
  setPassword(password: string): Promise<void>;
  /** sshd -E logs, concatenated (for failure messages). */
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/** Hosts a host key is shared by at most (the limit of the one-sshd-per-16-hosts layout before). */
const MAX_LISTEN = 16;
const HOST_PORT_NETNS = 22;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function hostAddress(octet2: number, index: number): string {
  return `127.${octet2}.${1 + Math.floor(index / 250)}.${1 + (index % 250)}`;
}

async function keygen(path: string, type: 'ed25519' | 'rsa', passphrase = ''): Promise<string> {
  const args = ['-q', '-t', type, '-N', passphrase, '-C', `fleetmend-test-${type}`, '-f', path];
  if (type === 'rsa') args.push('-b', '2048');
  await mustRun(['ssh-keygen', ...args]);
  await chmod(path, 0o600);
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}

export function fingerprintOf(base64Blob: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(base64Blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

async function hostKey(dir: string): Promise<HostKey> {
  const path = join(dir, 'ssh_host_ed25519_key');
  const pub = await keygen(path, 'ed25519');
  const [type, base64] = pub.split(' ');
  if (!type || !base64) throw new Error(`bad public key ${pub}`);
  return { type, base64, fingerprint: fingerprintOf(base64), privateKeyPath: path };
}

let opensshMinor: number | null = null;
async function opensshVersion(): Promise<number> {
  if (opensshMinor === null) {
    const r = await run(['ssh', '-V']);
    const m = /OpenSSH_(\d+)\.(\d+)/.exec(r.stderr + r.stdout);
    opensshMinor = m ? Number(m[1]) * 100 + Number(m[2]) : 0;
  }
  return opensshMinor;
}

interface SshdConfigInput {
  listen: string[];
  hostKeyPath: string;
  authorizedKeys: string;
  user: string;
  binDir: string;
  pidFile: string;
  forwarding: boolean;
  logLevel: string;
}

async function sshdConfig(c: SshdConfigInput): Promise<string> {
  const lines = [
    ...c.listen.map((l) => `ListenAddress ${l}`),
    `HostKey ${c.hostKeyPath}`,
    `PidFile ${c.pidFile}`,
    `AuthorizedKeysFile ${c.authorizedKeys}`,
    // The temp dir belongs to root with 0755 modes; sshd's ownership checks do not apply here.
    'StrictModes no',
    // No PAM: password auth reads /etc/shadow directly, and no pam_systemd/motd per session,
    // which would cost the benchmark's 200 concurrent logins for nothing.
    'UsePAM no',
    'UseDNS no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    `AllowUsers ${c.user}`,
    // Default MaxStartups 10:30:100 would drop a 200-way concurrent sweep's handshakes.
    'MaxStartups 1000',
    'MaxSessions 100',
    'MaxAuthTries 20',
    // Generous: a loaded CI box (200 logins on 2 cores) must not turn slowness into drops.
    'LoginGraceTime 120',
    `AllowTcpForwarding ${c.forwarding ? 'yes' : 'no'}`,
    'X11Forwarding no',
    'PrintMotd no',
    'PrintLastLog no',
    // Overrides sshd's default PATH for sessions, putting the audit fakes first.
    `SetEnv PATH=${c.binDir}:/usr/local/bin:/usr/bin:/bin`,
    `LogLevel ${c.logLevel}`,
    'Subsystem sftp /usr/lib/openssh/sftp-server',
  ];
  // OpenSSH >= 9.8 penalises sources that fail auth or time out; the tests do both on purpose.
  if ((await opensshVersion()) >= 908) lines.push('PerSourcePenalties no');
  return lines.join('\n') + '\n';
}

async function waitListening(child: ChildProcess, logPath: string, expected: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const log = await readFile(logPath, 'utf8').catch(() => '');
    if (/Bind to port .* failed|Cannot bind any address|fatal:/i.test(log)) throw new Error(`sshd failed to start:\n${log}`);
    if ((log.match(/Server listening on/g) ?? []).length >= expected) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}):\n${log}`);
    await sleep(20);
  }
  throw new Error(`sshd did not listen within 15s:\n${await readFile(logPath, 'utf8').catch(() => '')}`);
}

async function writeFakes(fleetDir: string, binDir: string): Promise<void> {
  await mkdir(binDir, { recursive: true, mode: 0o755 });
  const scripts: Record<string, string> = {
    auditctl: auditctlScript(fleetDir),
    augenrules: augenrulesScript(fleetDir),
    systemctl: systemctlScript(fleetDir),
    service: systemctlScript(fleetDir),
    ps: psScript(fleetDir),
    dmesg: dmesgScript(fleetDir),
    journalctl: journalctlScript(fleetDir),
  };
  await Promise.all(Object.entries(scripts).map(([name, body]) => writeFile(join(binDir, name), body, { mode: 0o755 })));
}

function yamlInventory(f: { hosts: FleetHost[]; user: string; key: string; jumpArg: string | null; become: boolean }): string {
  const out = ['# fleetmend real-sshd test fleet (generated)', 'all:', '  children:', '    sshd_fleet:', '      hosts:'];
  for (const h of f.hosts) {
    out.push(`        ${h.name}:`);
    out.push(`          ansible_host: ${h.address}`);
    out.push(`          ansible_port: ${h.port}`);
    out.push(`          ansible_user: ${f.user}`);
    out.push(`          ansible_ssh_private_key_file: ${f.key}`);
    if (f.jumpArg) out.push(`          ansible_ssh_common_args: '${f.jumpArg}'`);
    if (f.become) out.push('          ansible_become: true');
  }
  return out.join('\n') + '\n';
}

function sshClientConfig(f: { hosts: FleetHost[]; bastion: FleetHost | null; user: string; key: string; knownHosts: string }): string {
  const out = [
    'Host *',
    `  User ${f.user}`,
    `  IdentityFile ${f.key}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${f.knownHosts}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  BatchMode yes',
    '  LogLevel ERROR',
    '  ControlMaster no',
    '  ConnectTimeout 10',
  ];
  if (f.bastion) out.push('', 'Host bastion', `  HostName ${f.bastion.address}`, `  Port ${f.bastion.port}`);
  for (const h of f.hosts) {
    out.push('', `Host ${h.name}`, `  HostName ${h.address}`, `  Port ${h.port}`);
    if (f.bastion) out.push('  ProxyJump bastion');
  }
  return out.join('\n') + '\n';
}

function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** Accepts TCP in the root namespace and hands each connection to `sshd -i` inside `netns`. */
function startBastionRelay(o: { netns: string; address: string; port: number; config: string; log: string; children: Set<ChildProcess> }): Promise<net.Server> {
  const server = net.createServer((socket) => {
    const child = spawn('ip', ['netns', 'exec', o.netns, SSHD_PATH, '-i', '-f', o.config, '-E', o.log], { stdio: ['pipe', 'pipe', 'ignore'] });
    o.children.add(child);
    socket.pipe(child.stdin);
    child.stdout.pipe(socket);
    const done = () => {
      o.children.delete(child);
      socket.destroy();
    };
    child.on('exit', done);
    child.on('error', done);
    child.stdin.on('error', () => undefined);
    socket.on('error', () => child.kill('SIGTERM'));
    socket.on('close', () => child.stdin.end());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.address, () => resolve(server));
  });
}

function randomPort(): number {
  // Below the kernel's ephemeral range (32768+) so client sockets never hold it.
  return 20000 + Math.floor(Math.random() * 12000);
}

export async function startSshdFleet(options: SshdFleetOptions): Promise<SshdFleet> {
  const why = sshdUnavailableReason();
  if (why) throw new Error(`startSshdFleet: ${why}`);
  if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > 60000) throw new Error('hosts must be 1..60000');
  reapStaleFleets();
  // sshd refuses to start without its privilege separation directory (systemd makes it at boot).
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const mode = options.jump ? 'netns' : (options.mode ?? 'loopback');
  const perSshd = Math.max(1, Math.min(MAX_LISTEN, options.hostsPerSshd ?? MAX_LISTEN));
  const tag = randomBytes(4).toString('hex');
  const user = `fmt${tag}`;
  const netns = mode === 'netns' ? `fm-${tag}` : null;
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), 'fm-sshd-'));
  await chmod(dir, 0o755);
  const keep = options.keep ?? process.env.FM_SSHD_KEEP === '1';
  const entry: RegistryEntry = { ownerPid: process.pid, user, uid: null, netns, dir, keepDir: keep, sshdPids: [] };
  const relayChildren = new Set<ChildProcess>();
  const sshds: ChildProcess[] = [];
  let bastionServer: net.Server | null = null;
  const onExit = () => teardownSync({ ...entry, sshdPids: [...entry.sshdPids, ...[...relayChildren].flatMap((c) => (c.pid ? [c.pid] : []))] });
  process.on('exit', onExit);
  registryWrite(entry);

  try {
    const binDir = join(dir, 'bin');
    const home = join(dir, 'home');
    const clientDir = join(dir, 'client');
    await Promise.all([mkdir(home, { mode: 0o755 }), mkdir(clientDir, { mode: 0o755 }), writeFakes(dir, binDir)]);
    // A login shell would reset PATH from /etc/profile; put the fakes back first.
    await writeFile(join(home, '.profile'), `PATH="${binDir}:$PATH"\nexport PATH\n`, { mode: 0o644 });
    await writeFile(join(home, '.bash_profile'), `. "$HOME/.profile"\n`, { mode: 0o644 });
    const password = options.password === false ? null : randomBytes(12).toString('base64url');
    const passphrase = randomBytes(12).toString('base64url');
    const clientKeyPath = join(clientDir, 'id_ed25519');
    const rsaKeyPath = join(clientDir, 'id_rsa');
    const encryptedKeyPath = join(clientDir, 'id_ed25519_encrypted');
    const [uid, ed, rsa, enc] = await Promise.all([
      createUser(user, home, password),
      keygen(clientKeyPath, 'ed25519'),
      keygen(rsaKeyPath, 'rsa'),
      keygen(encryptedKeyPath, 'ed25519', passphrase),
    ]);
    entry.uid = uid;
    registryWrite(entry);
    let sudoMode: SudoMode = options.sudo ?? 'nopasswd';
    await writeSudoers(user, binDir, sudoMode);
    const authorizedKeys = join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, [ed, rsa, enc].join('\n') + '\n', { mode: 0o644 });
    if (netns) await createNetns(netns);
    // The client keys belong to root (the test process); sshd reads authorized_keys only.

    const octet2 = mode === 'netns' ? 1 + Math.floor(Math.random() * 250) : 2 + Math.floor(Math.random() * 250);
    const logLevel = options.logLevel ?? 'VERBOSE';
    // Hosts of one group share a host key (hostsPerSshd: 1 gives every host its own); every
    // host has its own sshd in its own mount namespace.
    const keyGroups: number[][] = [];
    for (let i = 0; i < options.hosts; i += perSshd) keyGroups.push(Array.from({ length: Math.min(perSshd, options.hosts - i) }, (_, k) => i + k));
    const width = Math.max(3, String(options.hosts).length);
    const hosts: FleetHost[] = new Array<FleetHost>(options.hosts);
    const keys = await Promise.all(
      keyGroups.map(async (_, g) => {
        const kdir = join(dir, 'keys', pad(g, 3));
        await mkdir(kdir, { recursive: true, mode: 0o755 });
        return hostKey(kdir);
      }),
    );
    keyGroups.forEach((group, g) => {
      for (const i of group) {
        const address = hostAddress(octet2, i);
        const stateDir = join(dir, 'hosts', address);
        const port = mode === 'netns' ? HOST_PORT_NETNS : 0;
        hosts[i] = { index: i, name: `h${pad(i + 1, width)}`, address, port, knownHostsName: '', hostKey: keys[g] as HostKey, stateFile: join(stateDir, 'state'), stateDir, rootDir: join(stateDir, 'root'), sshdPid: 0 };
      }
    });
    // The hosts' roots are the bind sources of their namespaces: written before any sshd starts.
    const layout = await buildNsLayout(dir);
    await mkdir(join(dir, 'hosts'), { recursive: true, mode: 0o755 });
    await Promise.all(
      hosts.map((h) => writeHostState(h.stateDir, h.name, mergeAuditState(defaultAuditState(h.index), options.state?.({ index: h.index, name: h.name, address: h.address }) ?? {}), layout.realProc)),
    );
    const sshdDirs = hosts.map((h) => join(dir, 'sshd', h.name));
    await mkdir(join(dir, 'sshd'), { mode: 0o755 });
    const startHost = async (h: FleetHost, sdir: string): Promise<void> => {
      await mkdir(sdir, { mode: 0o755 });
      for (let attempt = 0; ; attempt++) {
        const port = mode === 'netns' ? HOST_PORT_NETNS : randomPort();
        h.port = port;
        h.knownHostsName = knownHostsName(h.address, port);
        const config = join(sdir, 'sshd_config');
        const log = join(sdir, 'sshd.log');
        await writeFile(config, await sshdConfig({ listen: [`${h.address}:${port}`], hostKeyPath: h.hostKey.privateKeyPath, authorizedKeys, user, binDir, pidFile: join(sdir, 'sshd.pid'), forwarding: false, logLevel }));
        await writeFile(log, '');
        // unshare (no --fork), sh and ip netns exec all exec: the PID is the sshd's.
        const argv = ['unshare', '-m', '--propagation', 'private', '/bin/sh', '-c', hostMountScript(layout, h.rootDir), 'fm-ns', SSHD_PATH, '-D', '-f', config, '-E', log];
        const [cmd, ...args] = netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
        const child = spawn(cmd as string, args, { stdio: ['ignore', 'ignore', 'pipe'] });
        let setupErr = '';
        child.stderr?.on('data', (c: Buffer) => (setupErr = (setupErr + c.toString('utf8')).slice(-2000)));
        if (child.pid) {
          entry.sshdPids.push(child.pid);
          registryWrite(entry);
          h.sshdPid = child.pid;
        }
        sshds.push(child);
        try {
          await waitListening(child, log, 1);
          break;
        } catch (e) {
          child.kill('SIGKILL');
          const why = setupErr ? `${String(e)}\nnamespace setup: ${setupErr}` : String(e);
          if (mode === 'netns' || attempt >= 4 || !/Bind to port/.test(why)) throw new Error(`${h.name}: ${why}`);
        }
      }
    };
    // A bounded number at a time: 300 namespaces set up at once would only queue on 2 cores.
    let nextHost = 0;
    await Promise.all(
      Array.from({ length: Math.min(16, hosts.length) }, async () => {
        for (let i = nextHost++; i < hosts.length; i = nextHost++) await startHost(hosts[i] as FleetHost, sshdDirs[i] as string);
      }),
    );

    let bastion: FleetHost | null = null;
    if (options.jump && netns) {
      const bdir = join(dir, 'bastion');
      await mkdir(bdir, { mode: 0o755 });
      const key = await hostKey(bdir);
      const config = join(bdir, 'sshd_config');
      await writeFile(config, await sshdConfig({ listen: ['127.0.0.1:1'], hostKeyPath: key.privateKeyPath, authorizedKeys, user, binDir, pidFile: join(bdir, 'sshd.pid'), forwarding: true, logLevel }));
      const address = `127.${octet2 === 255 ? 254 : octet2 + 1}.255.1`;
      for (let attempt = 0; ; attempt++) {
        const port = randomPort();
        try {
          bastionServer = await startBastionRelay({ netns, address, port, config, log: join(bdir, 'sshd.log'), children: relayChildren });
          bastion = { index: -1, name: 'bastion', address, port, knownHostsName: knownHostsName(address, port), hostKey: key, stateFile: '', stateDir: bdir, rootDir: '', sshdPid: 0 };
          break;
        } catch (e) {
          if (attempt >= 4) throw e;
        }
      }
    }

    const knownHostsPath = join(clientDir, 'known_hosts');
    const knownLines = [...(bastion ? [bastion] : []), ...hosts].map((h) => `${h.knownHostsName} ${h.hostKey.type} ${h.hostKey.base64}`);
    await writeFile(knownHostsPath, knownLines.join('\n') + '\n', { mode: 0o644 });
    const inventoryPath = join(clientDir, 'inventory.yml');
    const jumpArg = bastion ? `-o ProxyJump=${user}@${bastion.address}:${bastion.port}` : null;
    await writeFile(inventoryPath, yamlInventory({ hosts, user, key: clientKeyPath, jumpArg, become: options.become ?? false }));
    const sshConfigPath = join(clientDir, 'ssh_config');
    await writeFile(sshConfigPath, sshClientConfig({ hosts, bastion, user, key: clientKeyPath, knownHosts: knownHostsPath }));

    const byName = new Map(hosts.map((h) => [h.name, h]));
    const resolveHost = (h: FleetHost | string): FleetHost => {
      const found = typeof h === 'string' ? (byName.get(h) ?? hosts.find((x) => x.address === h)) : h;
      if (!found) throw new Error(`no fleet host ${String(h)}`);
      return found;
    };
    const wrapArgv = (argv: readonly string[]) => (netns ? ['ip', 'netns', 'exec', netns, ...argv] : [...argv]);
    let stopped = false;

    const fleet: SshdFleet = {
      hosts,
      mode,
      netns,
      bastion,
      userName: user,
      uid,
      password,
      clientKeyPath,
      rsaKeyPath,
      encryptedKeyPath,
      passphrase,
      clientPublicKeys: { ed25519: ed, rsa, encrypted: enc },
      knownHostsPath,
      inventoryPath,
      sshConfigPath,
      dir,
      binDir,
      sshdPids: [...entry.sshdPids],
      wrapArgv,
      exec: (cmd, opts = {}) => run(wrapArgv(['sh', '-c', cmd]), opts),
      sshArgv: (h, command) => ['ssh', '-F', sshConfigPath, resolveHost(h).name, command],
      async setState(h, patch) {
        const host = resolveHost(h);
        const current = await readHostState(host.stateDir);
        const statusText = await readFile(join(host.stateDir, 'status.txt'), 'utf8').catch(() => null);
        // Only the patch's files are (re)written: whatever the runner wrote into the root stays.
        await writeHostState(host.stateDir, host.name, { ...mergeAuditState({ ...current, files: {}, statusText }, patch), files: patch.files ?? {} }, layout.realProc, false);
      },
      readState: (h) => readHostState(resolveHost(h).stateDir),
      readHostFile: (h, path) => readFile(join(resolveHost(h).rootDir, path), 'utf8').catch(() => null),
      async setSudo(m) {
        sudoMode = m;
        await writeSudoers(user, binDir, sudoMode);
      },
      async setPassword(p) {
        await setUserPassword(user, p);
        fleet.password = p;
      },
      async logs() {
        const parts: string[] = [];
        for (const d of sshdDirs) parts.push(await readFile(join(d, 'sshd.log'), 'utf8').catch(() => ''));
        if (bastion) parts.push(await readFile(join(dir, 'bastion', 'sshd.log'), 'utf8').catch(() => ''));
        return parts.join('\n');
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        if (bastionServer) await new Promise<void>((r) => bastionServer?.close(() => r()));
        const relayPids = [...relayChildren].flatMap((c) => (c.pid ? [c.pid] : []));
        await killFleetProcesses([...entry.sshdPids, ...relayPids], uid);
        process.off('exit', onExit);
        teardownSync({ ...entry, sshdPids: [] });
      },
    };
    return fleet;
  } catch (e) {
    bastionServer?.close();
    const relayPids = [...relayChildren].flatMap((c) => (c.pid ? [c.pid] : []));
    await killFleetProcesses([...entry.sshdPids, ...relayPids], entry.uid).catch(() => undefined);
    process.off('exit', onExit);
    teardownSync({ ...entry, sshdPids: [] });
    registryRemove(user);
    throw e;
  }
}
