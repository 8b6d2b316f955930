/**
 * The warm floor (issue 25): the least a tool that keeps its connections must do per sweep. A
 * bare ssh2 client logs in to every host once, then runs `sudo -n auditctl -s` (or `auditctl -s`)
 * on the same connections PASSES times, `forks` hosts at a time; each pass is timed alone. Run
 * as its own process:
 *
 *   node dist-bench/bench/warm-floor.js HOSTS.json FORKS 'COMMAND' PASSES
 *
 * Prints `login S ok N` and then `pass I S ok N` per pass (S: wall seconds).
 */
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import type { FloorHost } from './floor.js';

function connect(h: FloorHost, key: Buffer): Promise<ssh2.Client | undefined> {
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    c.on('ready', () => resolve(c));
    c.on('error', () => resolve(undefined));
    c.connect({ host: h.host, port: h.port, username: h.user, privateKey: key, readyTimeout: 120_000, keepaliveInterval: 15_000 });
  });
}

function status(c: ssh2.Client, command: string): Promise<boolean> {
  return new Promise((resolve) => {
    c.exec(command, (err, stream) => {
      if (err) return resolve(false);
      let out = '';
      stream.on('data', (d: Buffer) => (out += d.toString('latin1')));
      stream.stderr.resume();
      stream.on('close', (code: number | null) => resolve(code === 0 && out.includes('backlog_limit')));
      stream.end();
    });
  });
}

async function pool<T>(items: readonly T[], forks: number, each: (item: T, i: number) => Promise<boolean>): Promise<number> {
  let next = 0;
  let ok = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) if (await each(items[i] as T, i)) ok++;
  };
  await Promise.all(Array.from({ length: Math.min(forks, items.length) }, worker));
  return ok;
}

async function main(): Promise<void> {
  const [file, forksArg, command, passesArg] = process.argv.slice(2);
  if (!file || !forksArg || !command || !passesArg) throw new Error('usage: warm-floor.js HOSTS.json FORKS COMMAND PASSES');
  const hosts = JSON.parse(readFileSync(file, 'utf8')) as FloorHost[];
  const forks = Number(forksArg);
  const keys = new Map<string, Buffer>();
  const clients: (ssh2.Client | undefined)[] = [];
  let t = performance.now();
  const logged = await pool(hosts, forks, async (h, i) => {
    let key = keys.get(h.key);
    if (!key) keys.set(h.key, (key = readFileSync(h.key)));
    clients[i] = await connect(h, key);
    return clients[i] !== undefined;
  });
  process.stdout.write(`login ${((performance.now() - t) / 1000).toFixed(3)} ok ${logged}\n`);
  for (let p = 1; p <= Number(passesArg); p++) {
    t = performance.now();
    const ok = await pool(clients, forks, (c) => (c ? status(c, command) : Promise.resolve(false)));
    process.stdout.write(`pass ${p} ${((performance.now() - t) / 1000).toFixed(3)} ok ${ok}\n`);
  }
  for (const c of clients) c?.end();
}

main().catch((e: unknown) => {
  process.stderr.write(`warm-floor: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
