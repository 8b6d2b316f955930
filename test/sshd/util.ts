/** Shared bits of the real-sshd feature tests: a ConnectionSpec for a fleet host, error capture. */
import { join } from 'node:path';
import { FleetmendError, type ErrorCode } from '../../src/errors.js';
import { KnownHostsCache, TransportFactory, type ConnectionSpec, type TransportLogger } from '../../src/transport/index.js';
import { run, sshdUnavailableReason, type FleetHost, type SshdFleet } from '../helpers/sshd-fleet.js';

export const skipReason = sshdUnavailableReason();
if (skipReason) console.warn(`[test/sshd] skipped: ${skipReason}`);

export function specFor(fleet: SshdFleet, host: FleetHost, over: Partial<ConnectionSpec> = {}): ConnectionSpec {
  return {
    name: host.name,
    address: host.address,
    port: host.port,
    user: fleet.userName,
    // useAgent false: an SSH_AUTH_SOCK in the developer's shell must not make a test pass.
    auth: { privateKeyFile: fleet.clientKeyPath, useAgent: false },
    become: { enabled: false },
    connectTimeoutMs: 15_000,
    commandTimeoutMs: 15_000,
    keepaliveIntervalMs: 5_000,
    maxOutputBytes: 1 << 20,
    knownHostsFile: fleet.knownHostsPath,
    hostKeyChecking: 'strict',
    ...over,
  };
}

export interface Captured {
  logger: TransportLogger;
  lines: string[];
}

export function captureLogger(): Captured {
  const lines: string[] = [];
  return { lines, logger: { warn: (m) => lines.push(m), debug: (m) => lines.push(m) } };
}

/** A fresh factory (own known_hosts cache) per call, so each test reads its file anew. */
export function factory(log: Captured = captureLogger(), hashKnownHosts = false): TransportFactory {
  return new TransportFactory({ logger: log.logger, knownHosts: new KnownHostsCache({ logger: log.logger, hashNewEntries: hashKnownHosts }), hashKnownHosts });
}

/** Connects, runs `command`, closes; returns stdout. */
export async function runOn(spec: ConnectionSpec, command: string, log?: Captured): Promise<string> {
  const t = await factory(log).connect(spec);
  try {
    const r = await t.exec(command);
    if (r.code !== 0) throw new Error(`${command} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  } finally {
    await t.close();
  }
}

export async function expectFailure(p: Promise<unknown>, code: ErrorCode): Promise<FleetmendError> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof FleetmendError)) throw new Error(`expected FleetmendError ${code}, got ${String(e)}`, { cause: e });
    if (e.code !== code) throw new Error(`expected ${code}, got ${e.code}: ${e.message}`, { cause: e });
    return e;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/** A second ed25519 public key, for "the host key changed" cases. */
export async function otherHostKey(dir: string): Promise<string> {
  const path = join(dir, `other-${Math.random().toString(36).slice(2)}`);
  const r = await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', path]);
  if (r.code !== 0) throw new Error(r.stderr);
  const pub = (await import('node:fs/promises')).readFile(`${path}.pub`, 'utf8');
  return (await pub).split(' ').slice(0, 2).join(' ');
}

