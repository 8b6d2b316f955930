/**
 * RSS per idle warm connection (issue 25): this process holds N simulated hosts warm through
 * fleetmend's ConnectionPool (the simulator runs in another process), then reports what the
 * connections cost once idle: RSS after a full GC, minus the same before any connection, per
 * connection, and the open file descriptors. Each connection holds what a scheduled sweep leaves
 * on it: its kept probe shell (transport/kept-shell.ts: one more channel). Run with --expose-gc:
 *
 *   node --expose-gc dist-bench/bench/warm-rss.js INVENTORY KNOWN_HOSTS
 *
 * Prints one JSON line: { hosts, warm, logins, rssBeforeMb, rssAfterMb, kbPerConnection, fds, fdLimit }.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { buildConnectionSpec, ConnectionPool, readNofileLimit, TransportFactory } from '../src/transport/index.js';

interface SimInventory {
  all: { hosts: Record<string, { ansible_host: string; ansible_port: number; ansible_user: string; ansible_ssh_private_key_file: string }> };
}

const gc = (globalThis as { gc?: () => void }).gc;
function rssMb(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
}

async function main(): Promise<void> {
  const [inventory, knownHosts] = process.argv.slice(2);
  if (!inventory || !knownHosts) throw new Error('usage: warm-rss.js INVENTORY KNOWN_HOSTS');
  const inv = parse(readFileSync(inventory, 'utf8')) as SimInventory;
  const specs = await Promise.all(
    Object.entries(inv.all.hosts).map(([name, v]) =>
      buildConnectionSpec(name, { address: v.ansible_host, port: v.ansible_port, user: v.ansible_user, privateKeyFile: v.ansible_ssh_private_key_file }, { knownHostsFile: knownHosts, hostKeyChecking: 'strict', connectTimeoutMs: 120_000 }),
    ),
  );
  const pool = new ConnectionPool({ maxWarm: specs.length, idleTimeoutMs: 3_600_000 });
  const factory = new TransportFactory({ pool });
  // load and warm everything a connection touches once, so the baseline holds the code, not the connections
  const first = factory.create(specs[0]!);
  await first.exec('true', { probe: true });
  await first.close();
  const before = rssMb();
  const forks = 100;
  let next = 1;
  let failed = 0;
  await Promise.all(
    Array.from({ length: forks }, async () => {
      for (let i = next++; i < specs.length; i = next++) {
        const t = factory.create(specs[i]!);
        try {
          await t.exec('true', { probe: true });
        } catch {
          failed++;
        } finally {
          await t.close();
        }
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssMb();
  const warm = pool.connections;
  const fds = readdirSync('/proc/self/fd').length;
  const limit = readNofileLimit();
  process.stdout.write(
    `${JSON.stringify({ hosts: specs.length, warm, failed, logins: pool.stats.logins, rssBeforeMb: +before.toFixed(1), rssAfterMb: +after.toFixed(1), kbPerConnection: +(((after - before) * 1024) / Math.max(1, warm - 1)).toFixed(1), fds, fdLimit: limit?.soft ?? null })}\n`,
  );
  await pool.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`warm-rss: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
