/**
 * The fleets the benchmark sweeps: real sshd (test/helpers/sshd-fleet) or the simulator started
 * as a SEPARATE process (`fleetmend sim`), so that the runner's CPU and RSS are its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startSshdFleet, sshdUnavailableReason, type SshdFleetOptions } from '../test/helpers/sshd-fleet.js';
import { parseStatCpuTicks } from './lib.js';

/** What a sweep and the OpenSSH baseline need to reach the hosts. */
export interface BenchFleet {
  kind: 'sshd' | 'sim';
  hosts: number;
  inventoryPath: string;
  knownHostsPath: string;
  /** OpenSSH client config naming every host (`ssh -F`). */
  sshConfigPath: string;
  /** One host name a line, for `xargs -a`. */
  hostListPath: string;
  /** `[{host, port, user, key}]` for the floor baseline (bench/floor.ts). */
  hostsJsonPath: string;
  /** The login is not root: every tool reads the status through sudo (fleetmend with -b). */
  nonRootLogin: boolean;
  startS: number;
  /** Own plus reaped children's CPU ticks of the hosts' sshd listeners, summed (real sshd only). */
  sshdCpuTicks?: () => number;
  stop(): Promise<void>;
}

/** Sum of parseStatCpuTicks over live PIDs (a listener that died counts nothing: it served nothing more). */
function cpuTicksOf(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += parseStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      /* gone */
    }
  }
  return sum;
}

export { sshdUnavailableReason };

/** `state`: per-host audit state on top of the healthy default (the output-cap row's spewer). */
export async function startRealFleet(hosts: number, state?: SshdFleetOptions['state']): Promise<BenchFleet> {
  const t0 = Date.now();
  // LogLevel INFO: VERBOSE logs several lines per login, which the baseline and the runner would
  // both pay for in sshd's CPU, but it is noise for the benchmark.
  const fleet = await startSshdFleet({ hosts, logLevel: 'INFO', ...(state ? { state } : {}) });
  const hostListPath = join(fleet.dir, 'client', 'hosts.txt');
  await writeFile(hostListPath, fleet.hosts.map((h) => h.name).join('\n') + '\n');
  const hostsJsonPath = join(fleet.dir, 'client', 'hosts.json');
  await writeFile(hostsJsonPath, JSON.stringify(fleet.hosts.map((h) => ({ host: h.address, port: h.port, user: fleet.userName, key: fleet.clientKeyPath }))));
  return {
    kind: 'sshd',
    hosts,
    hostsJsonPath,
    nonRootLogin: true,
    inventoryPath: fleet.inventoryPath,
    knownHostsPath: fleet.knownHostsPath,
    sshConfigPath: fleet.sshConfigPath,
    hostListPath,
    startS: (Date.now() - t0) / 1000,
    // sshd forks a session per connection and reaps it when it ends; each session reaps the
    // shell, sudo and auditctl it ran: the listeners' cutime/cstime holds all of a login's cost.
    sshdCpuTicks: () => cpuTicksOf(fleet.sshdPids),
    stop: () => fleet.stop(),
  };
}

interface SimInventory {
  all: { hosts: Record<string, { ansible_host: string; ansible_port: number; ansible_user: string; ansible_ssh_private_key_file: string }> };
}

/** An OpenSSH config for the simulated hosts (for the fallback baseline). */
async function simSshConfig(dir: string, inventoryPath: string, knownHostsPath: string): Promise<{ config: string; list: string; json: string }> {
  const inv = parse(await readFile(inventoryPath, 'utf8')) as SimInventory;
  const out = ['Host *', `  UserKnownHostsFile ${knownHostsPath}`, '  GlobalKnownHostsFile /dev/null', '  StrictHostKeyChecking yes', '  BatchMode yes', '  IdentitiesOnly yes', '  LogLevel ERROR', '  ControlMaster no'];
  const names: string[] = [];
  const floor: { host: string; port: number; user: string; key: string }[] = [];
  for (const [name, v] of Object.entries(inv.all.hosts)) {
    names.push(name);
    floor.push({ host: v.ansible_host, port: v.ansible_port, user: v.ansible_user, key: v.ansible_ssh_private_key_file });
    out.push('', `Host ${name}`, `  HostName ${v.ansible_host}`, `  Port ${v.ansible_port}`, `  User ${v.ansible_user}`, `  IdentityFile ${v.ansible_ssh_private_key_file}`);
  }
  const config = join(dir, 'ssh_config');
  const list = join(dir, 'hosts.txt');
  await writeFile(config, out.join('\n') + '\n');
  await writeFile(list, names.join('\n') + '\n');
  const json = join(dir, 'hosts.json');
  await writeFile(json, JSON.stringify(floor));
  return { config, list, json };
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** `node dist/bin/main.js sim --scenario healthy --hosts N --dir D`, until it prints "press Ctrl-C". */
export async function startSimProcess(cli: string, hosts: number, dir: string): Promise<BenchFleet> {
  const t0 = Date.now();
  // 2 minutes plus 30 ms a host (host key generation on a loaded box)
  const timeoutMs = 120_000 + hosts * 30;
  const child = spawn(process.execPath, [cli, 'sim', '--scenario', 'healthy', '--hosts', String(hosts), '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const stop = async () => {
    if (!child.pid) return;
    child.kill('SIGTERM');
    if (!(await waitExit(child, 30_000))) {
      child.kill('SIGKILL');
      await waitExit(child, 5_000);
    }
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`simulator did not start within ${Math.round(timeoutMs / 1000)} s:\n${log}`)), timeoutMs);
      const onData = (c: Buffer) => {
        log += c.toString('utf8');
        if (log.includes('press Ctrl-C')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (c: Buffer) => (log += c.toString('utf8')));
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`simulator exited (${code ?? sig}) before it was ready:\n${log}`));
      });
    });
    // keep draining its output so the pipe never blocks it
    child.stdout.resume();
    child.stderr.resume();
  } catch (e) {
    await stop();
    throw e;
  }
  const inventoryPath = join(dir, 'inventory.yml');
  const knownHostsPath = join(dir, 'known_hosts');
  const ssh = await simSshConfig(dir, inventoryPath, knownHostsPath);
  return { kind: 'sim', hosts, inventoryPath, knownHostsPath, sshConfigPath: ssh.config, hostListPath: ssh.list, hostsJsonPath: ssh.json, nonRootLogin: false, startS: (Date.now() - t0) / 1000, stop };
}
