import type { Fleet, SimHost } from '../../src/sim/index.js';
import type { ConnectionSpec } from '../../src/transport/index.js';

/**
 * A connection spec for one simulated host, as an inventory would give it (the fleet's client key,
 * its known_hosts, strict checking; become when the login is not root): for tests that drive the
 * transport or the pool directly.
 */
export function simSpec(fleet: Fleet, h: SimHost, over: Partial<ConnectionSpec> = {}): ConnectionSpec {
  return {
    name: h.name,
    address: h.address,
    port: h.port,
    user: h.machine.spec.user,
    auth: { privateKeyFile: fleet.clientKeyPath, useAgent: false },
    become: { enabled: h.machine.spec.user !== 'root' },
    connectTimeoutMs: 5000,
    commandTimeoutMs: 5000,
    keepaliveIntervalMs: 15000,
    maxOutputBytes: 1 << 20,
    knownHostsFile: fleet.knownHostsPath,
    hostKeyChecking: 'strict',
    ...over,
  };
}
