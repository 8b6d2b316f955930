import type { Command } from 'commander';
import { FleetmendError } from '../errors.js';
import type { CliIO } from './io.js';
import { collect, parsePositiveInt } from './util.js';
import { retention } from './prune.js';
import { optionWithDefault } from './options.js';
import { warmOptions, type WarmCliOptions } from './schedule.js';

export interface ServeCliOptions extends WarmCliOptions {
  stateDir?: string;
  listen: string;
  authTokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  behindProxy?: boolean;
  allowedHost?: string[];
  schedule?: string[];
  pruneCron?: string;
  keepRuns?: number;
  keepDays?: number;
}

export function serveCommand(program: Command, io: CliIO): Command {
  const cmd = program
    .command('serve')
    .description('read-only web UI and JSON API over the run store (fleet, host, run, compare, search); optionally runs schedules')
    .usage("[options] [-- sweep|run ARGS... [-- sweep|run ARGS...]]")
    .option('--state-dir <dir>', 'run store location')
    .addOption(optionWithDefault('--listen <addr:port>', 'address to bind (a non-loopback one needs --auth-token-file and TLS or --behind-proxy)', '127.0.0.1:8080'))
    .option('--auth-token-file <file>', 'require this bearer token (or as the basic-auth password)')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', 'and this key (PEM)')
    .option('--behind-proxy', 'TLS ends at a reverse proxy in front (allows a non-loopback bind without --tls-*)')
    .option('--allowed-host <name>', 'also accept this Host header (the proxy\'s public name); repeatable', collect)
    .option('--schedule <cron>', "run the Nth command after '--' on this cron expression; repeatable", collect)
    .option('--prune-cron <cron>', 'prune the store on this schedule (with --keep-runs / --keep-days)')
    .option('--keep-runs <n>', 'retention for --prune-cron', parsePositiveInt('--keep-runs'))
    .option('--keep-days <d>', 'retention for --prune-cron', parsePositiveInt('--keep-days'))
    .argument('[command...]', "after '--': sweep -i INV ... (one per --schedule, separated by '--')");
  // the schedules share one warm pool (issue 25): a host swept by two schedules logs in once
  return warmOptions(cmd).action(async (command: string[], opts: ServeCliOptions) => {
    io.exitCode = await serveAction(command, opts, io);
  });
}

/** `a b -- c d` → [[a, b], [c, d]]: commander keeps the later `--` separators in the arguments. */
export function splitCommands(args: readonly string[]): string[][] {
  const out: string[][] = [[]];
  for (const a of args) {
    if (a === '--') out.push([]);
    else out[out.length - 1]!.push(a);
  }
  return out.filter((c) => c.length > 0);
}

async function serveAction(args: string[], given: ServeCliOptions, io: CliIO): Promise<number> {
  const opts = { ...given, schedule: given.schedule ?? [], allowedHost: given.allowedHost ?? [] };
  const commands = splitCommands(args);
  if (commands.length !== opts.schedule.length) {
    throw new FleetmendError('E_USAGE', `serve: ${opts.schedule.length} --schedule for ${commands.length} commands after '--' (one each)`);
  }
  if (opts.pruneCron) retention(opts);
  const [{ parseListen, LatestSweep, render, negotiate, CONTENT_TYPES }, { checkExposure, readToken, startServe, ReadModel }, store] = await Promise.all([
    import('../metrics/index.js'),
    import('../serve/index.js'),
    import('../store/index.js'),
  ]);
  const listen = parseServeListen(opts.listen, parseListen);
  checkExposure({ listen, ...pick(opts) });
  const stateDir = opts.stateDir ?? store.defaultStateDir(io.env);
  const reader = store.openStoreReader(stateDir);
  const latest = new LatestSweep();
  const server = await startServe({
    listen,
    model: new ReadModel(reader.db),
    ...(opts.authTokenFile ? { token: readToken(opts.authTokenFile) } : {}),
    ...(opts.tlsCert && opts.tlsKey ? { tls: { cert: opts.tlsCert, key: opts.tlsKey } } : {}),
    allowedHosts: opts.allowedHost,
    ...(commands.length
      ? {
          extra: {
            '/metrics': (req, res) => {
              const format = negotiate(req.headers.accept);
              res.writeHead(200, { 'content-type': CONTENT_TYPES[format], 'cache-control': 'no-store' }).end(render(latest.get() ?? [], format));
            },
          },
        }
      : {}),
  });
  io.stderr.write(`serve: ${server.url} (state ${stateDir})\n`);
  const stopPrune = opts.pruneCron ? await schedulePrune(opts, stateDir, io) : undefined;
  try {
    if (commands.length) return await runSchedules(commands, opts, stateDir, io, (s) => latest.update(s));
    await untilSignal();
    return 0;
  } finally {
    stopPrune?.();
    await server.close();
    reader.db.close();
  }
}

function pick(o: ServeCliOptions) {
  return {
    ...(o.authTokenFile ? { tokenFile: o.authTokenFile } : {}),
    ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}),
    ...(o.tlsKey ? { tlsKey: o.tlsKey } : {}),
    ...(o.behindProxy ? { behindProxy: true } : {}),
  };
}

/** The metrics listener's parser (IP literals only, no DNS), allowing any address: checkExposure decides. */
function parseServeListen(spec: string, parse: (s: string, o: { allowRemote: boolean }) => { host: string; port: number }) {
  try {
    return parse(spec, { allowRemote: true });
  } catch (err) {
    if (err instanceof FleetmendError) throw new FleetmendError('E_USAGE', err.message.replace('--metrics-listen', '--listen'));
    throw err;
  }
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/** Each `--schedule` with its command, through the scheduler `fleetmend schedule` uses (same locks, same runs). */
async function runSchedules(commands: string[][], opts: ServeCliOptions & { schedule: string[] }, stateDir: string, io: CliIO, onRunRecorded: (s: import('../store/index.js').StoredRun) => void): Promise<number> {
  const [{ runScheduler }, { scheduledRunner, warmPool }] = await Promise.all([import('../schedule/index.js'), import('./schedule.js')]);
  const pool = await warmPool(opts, (line) => io.stderr.write(`serve: ${line}\n`), io);
  try {
    const outcomes = await Promise.all(
      commands.map(async (command, i) =>
        runScheduler(
          { cron: opts.schedule[i]!, command, stateDir, notify: 'changes' },
          { stdout: io.stdout, stderr: io.stderr, env: io.env, clock: io.clock, execute: await scheduledRunner(command, stateDir, io, pool), ...(io.interrupt ? { interrupt: io.interrupt } : {}), onRunRecorded },
        ),
      ),
    );
    return Math.max(0, ...outcomes.map((o) => o.exitCode));
  } finally {
    await pool?.close();
  }
}

/** `--prune-cron`: retention inside the server, through the writer connection, one prune at a time. */
async function schedulePrune(opts: ServeCliOptions, stateDir: string, io: CliIO): Promise<() => void> {
  const [{ Cron }, { openStore }] = await Promise.all([import('croner'), import('../store/index.js')]);
  const keep = retention(opts);
  const job = new Cron(opts.pruneCron!, { protect: true }, () => {
    const store = openStore(stateDir);
    try {
      const r = store.prune({ ...keep, now: io.clock.now() });
      io.stderr.write(`serve: pruned ${r.deleted_runs} runs; store ${r.bytes_before} -> ${r.bytes_after} bytes\n`);
    } catch (err) {
      io.stderr.write(`serve: prune failed: ${err instanceof Error ? err.message : String(err)}\n`);
    } finally {
      store.close();
    }
  });
  return () => job.stop();
}
