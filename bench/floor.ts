/**
 * The floor baseline: the least any tool must do to read a host's audit status. A bare ssh2
 * client, per host one login and one `auditctl -s` (`sudo -n auditctl -s` for a non-root login),
 * `forks` hosts at a time, nothing parsed beyond "did it print a status". Host keys are not
 * checked (one hash per host: noise next to the key exchange). Run as its own process so its CPU
 * and RSS are measured alone:
 *
 *   node dist-bench/bench/floor.js HOSTS.json FORKS 'COMMAND'
 *
 * HOSTS.json: [{ "host", "port", "user", "key" }]. Prints `floor ok N failed M`.
 */
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';

export interface FloorHost {
  host: string;
  port: number;
  user: string;
  /** Path of the private key file. */
  key: string;
}

function one(h: FloorHost, key: Buffer, command: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    let settled = false;
    const done = (v: boolean): void => {
      if (settled) return;
      settled = true;
      c.end();
      resolve(v);
    };
    c.on('ready', () => {
      c.exec(command, (err, stream) => {
        if (err) return done(false);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d.toString('latin1')));
        stream.stderr.resume();
        stream.on('close', (code: number | null) => done(code === 0 && out.includes('backlog_limit')));
        stream.end();
      });
    });
    c.on('error', () => done(false));
    c.on('close', () => done(false));
    c.connect({ host: h.host, port: h.port, username: h.user, privateKey: key, readyTimeout: 120_000 });
  });
}

async function main(): Promise<void> {
  const [file, forksArg, command] = process.argv.slice(2);
  if (!file || !forksArg || !command) throw new Error('usage: floor.js HOSTS.json FORKS COMMAND');
  const hosts = JSON.parse(readFileSync(file, 'utf8')) as FloorHost[];
  const keys = new Map<string, Buffer>();
  const forks = Number(forksArg);
  let next = 0;
  let ok = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < hosts.length; i = next++) {
      const h = hosts[i] as FloorHost;
      let key = keys.get(h.key);
      if (!key) keys.set(h.key, (key = readFileSync(h.key)));
      if (await one(h, key, command)) ok++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(forks, hosts.length) }, worker));
  process.stdout.write(`floor ok ${ok} failed ${failed}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`floor: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
