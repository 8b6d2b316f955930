/**
 * `fleetmend demo`: the whole job on a simulated fleet, told in five steps. Every step is one of
 * fleetmend's own commands run in-process through the CLI entry (`main(argv, io)`), so the
 * operator sees exactly what `fleetmend sweep` / `fleetmend run` print, and the demo does not
 * depend on how those commands are built inside.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { driftSinceLast } from '../drift/index.js';
import type { HostResult, RunInfo } from '../results/index.js';
import type { RunStore } from '../store/index.js';
import { optionWithDefault, secondsOption } from './options.js';
import { packageRoot } from './paths.js';
import type { CliIO } from './io.js';
import { parsePositiveInt } from './util.js';
import { terminalLines } from '../util/terminal.js';
import { defaultStateDir } from '../store/state-dir.js';

/** The CLI entry, injected by program.ts (no import cycle). */
export type CliMain = (argv: string[], io: Partial<CliIO>) => Promise<number>;

interface DemoOptions {
  hosts?: number;
  scenario: string;
  output: string;
  stateDir?: string;
  interval: number;
  /** Distributed mode: a local redis-server and `workers` fleetmend workers take the sweeps' and the playbooks' hosts. */
  cluster?: boolean;
  workers: number;
}

/** Findings `playbooks/restart-auditd.yml` restarts auditd for (its `when:`). */
const RESTART_FINDINGS = ['backlog-growing', 'auditd-not-running', 'tasks-stalled'];
// from the package, so that the demo also runs from another directory
const RESTART_PLAYBOOK = () => shown(join(packageRoot(), 'playbooks', 'restart-auditd.yml'));
const PANIC_PLAYBOOK = () => shown(join(packageRoot(), 'examples', 'demo', 'panic-on-loss.yml'));

export function demoCommand(program: Command, io: CliIO, cli: CliMain): Command {
  return program
    .command('demo')
    .description('the whole job on a simulated fleet: sweep, check + diff, the panic guard, apply, drift')
    .option('--hosts <n>', 'number of hosts', parsePositiveInt('--hosts'))
    .addOption(optionWithDefault('--scenario <name>', 'simulated fleet scenario', 'incident'))
    .addOption(optionWithDefault('-o, --output <dir>', 'report directory', 'reports'))
    .option('--state-dir <dir>', 'run store location (default: $XDG_STATE_HOME/fleetmend/demo, apart from real runs)')
    .addOption(secondsOption('--interval <seconds>', 'between the two samples of each sweep', 2))
    .option('--cluster', 'distributed: a local redis-server and --workers fleetmend workers take the hosts of every sweep and playbook run')
    .option('--workers <n>', 'workers for --cluster', parsePositiveInt('--workers'), 3)
    .action(async (opts: DemoOptions) => {
      // where every other command keeps its store, not the working directory; in a `demo`
      // store of its own so that `runs` of the real fleet does not list simulated runs
      const stateDir = opts.stateDir ?? join(defaultStateDir(io.env), 'demo');
      io.exitCode = await demoAction({ ...opts, stateDir }, io, cli);
    });
}

/** What one in-process command printed and recorded. */
interface Step {
  code: number;
  out: string;
  err: string;
  run?: RunInfo;
  hosts: HostResult[];
  store?: RunStore;
  /** `--since-last` drift, computed while the store is still open. */
  resolved: Map<string, string[]>;
}

/** A stream that shows the operator everything and keeps a copy for the demo's checks. */
function tee(to: NodeJS.WritableStream & { isTTY?: boolean }, keep: (s: string) => void): Writable {
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      keep(chunk.toString());
      // done at once, not on the target's flush: a deferred callback would queue later chunks
      // behind the demo's own headers and print them out of order
      to.write(chunk);
      done();
    },
  });
}

async function runStep(cli: CliMain, io: CliIO, argv: string[]): Promise<Step> {
  const step: Step = { code: 0, out: '', err: '', hosts: [], resolved: new Map() };
  io.stdout.write(`$ fleetmend ${argv.join(' ')}\n`);
  step.code = await cli(argv, {
    stdout: tee(io.stdout, (s) => (step.out += s)),
    stderr: tee(io.stderr, (s) => (step.err += s)),
    env: io.env,
    clock: io.clock,
    ...(io.interrupt ? { interrupt: io.interrupt } : {}),
    // one more subscriber of the run: what it recorded, read while the store is open
    subscribers: [
      {
        onFinished: ({ run }, store) => {
          step.run = run;
          if (!store) return;
          step.hosts = store.getRun(run.id).hosts;
          for (const h of driftSinceLast(store, run.id).hosts) {
            const codes = h.changes.flatMap((c) => (c.kind === 'resolved-finding' ? [c.code] : []));
            if (codes.length) step.resolved.set(h.host, codes);
          }
        },
      },
    ],
  });
  return step;
}

function header(io: CliIO, n: number, title: string, what: string): void {
  io.stdout.write(`\n${'='.repeat(78)}\n(${n}/5) ${title}\n    ${what}\n${'='.repeat(78)}\n`);
}

/** Paths for the operator to type: relative to where they stand unless that climbs out of it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : resolve(path);
}

const findingCodes = (h: HostResult) => (h.diagnosis?.findings ?? []).map((f) => f.code);

/** The step's guard refusal on `host`, if a task was refused. */
function guardRefusal(step: Step, host: string): string | undefined {
  const h = step.hosts.find((x) => x.host === host);
  const t = h?.tasks?.find((x) => x.error?.code === 'E_GUARD');
  return t?.error?.message ?? (h?.error?.code === 'E_GUARD' ? h.error.message : undefined);
}

const reportPath = (step: Step) => step.err.match(/^report: (.*\.html)$/m)?.[1];

class DemoFailed extends Error {}

async function demoAction(opts: DemoOptions & { stateDir: string }, io: CliIO, cli: CliMain): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetmend-demo-'));
  io.stderr.write(`starting the simulated '${opts.scenario}' fleet...\n`);
  const { startFleet } = await import('../sim/index.js');
  const fleet = await startFleet({ scenario: opts.scenario, dir, ...(opts.hosts ? { hosts: opts.hosts } : {}) });
  const started = io.clock.now();
  let cluster: Awaited<ReturnType<typeof import('../distributed/cluster.js').startLocalCluster>> | undefined;
  try {
    if (opts.cluster) {
      const { startLocalCluster } = await import('../distributed/cluster.js');
      io.stderr.write(`starting redis-server and ${opts.workers} worker(s)...\n`);
      cluster = await startLocalCluster({ dir, workers: opts.workers, inventory: fleet.inventoryPath, knownHosts: fleet.knownHostsPath, cliPath: process.argv[1]! });
    }
    const conn = ['-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--host-key-checking', 'strict', '--state-dir', opts.stateDir];
    // with --cluster the sweeps and the playbook runs are queued to the workers
    const queued = cluster ? cluster.coordinatorArgs : [];
    const runArgs = [...conn, ...queued];
    const sweepArgs = [...runArgs, '--interval', String(opts.interval / 1000), '-o', opts.output, '--format', 'md,html,json,junit'];
    const expect = (ok: boolean, why: string) => {
      if (!ok) throw new DemoFailed(why);
    };

    header(io, 1, 'Sweep: what is wrong, and why', `two samples of the audit status of all ${fleet.hosts.length} hosts over SSH, diagnosed and checked against the policy`);
    const first = await runStep(cli, io, ['sweep', ...sweepArgs]);
    if (cluster) io.stdout.write(terminalLines(['', 'Hosts per worker:', ...cluster.workers.map((w) => `  ${w}: ${first.hosts.filter((h) => h.worker === w).length}`)]));
    const incident = first.hosts.filter((h) => findingCodes(h).some((c) => RESTART_FINDINGS.includes(c))).map((h) => h.host);
    expect(incident.length > 0, `the first sweep found no host whose auditd does not drain (${RESTART_FINDINGS.join(', ')}); exit code ${first.code}`);
    const losing = first.hosts.find((h) => incident.includes(h.host) && findingCodes(h).includes('records-lost'))?.host ?? incident[0]!;
    const limit = incident.join(':');

    header(io, 2, `Check mode: what ${RESTART_PLAYBOOK()} would change`, `--check --diff on ${limit} only: the hosts are read, nothing is changed`);
    const check = await runStep(cli, io, ['run', RESTART_PLAYBOOK(), ...runArgs, '--limit', limit, '--check', '--diff']);
    const predicted = check.hosts.filter((h) => h.status === 'changed').map((h) => h.host);
    expect(predicted.length > 0, `check mode predicted no change on ${limit} (exit code ${check.code})`);

    header(io, 3, `The panic guard: failure 2 on ${losing}, the host that is losing records`, `${PANIC_PLAYBOOK()} asks for 'auditctl -f 2'; the guard must refuse it and say why`);
    const panic = await runStep(cli, io, ['run', PANIC_PLAYBOOK(), ...runArgs, '--limit', losing]);
    const refusal = guardRefusal(panic, losing);
    // the refusal is in the run's own output (its TASK line and the progress); the demo only checks it happened
    expect(refusal !== undefined, `the panic guard did not refuse failure 2 on ${losing} (exit code ${panic.code})`);

    header(io, 4, `Apply: restart auditd on ${limit}`, `the same playbook for real: restart, then verify a new pid, is-active and the backlog drained`);
    // the playbook watches each restarted host 30 s (the fix must hold); 5 s is enough on the simulator
    const apply = await runStep(cli, io, ['run', RESTART_PLAYBOOK(), ...runArgs, '--limit', limit, '--diff', '--watch', '5']);
    const applied = apply.hosts.filter((h) => h.status === 'changed').map((h) => h.host);
    if (cluster) io.stdout.write(terminalLines(['', `Applied by: ${apply.hosts.map((h) => `${h.host} on ${h.worker ?? 'no worker'}`).join(', ')}`]));
    expect(applied.length === incident.length, `the apply changed ${applied.join(', ') || 'no host'}, expected ${limit} (exit code ${apply.code})`);

    header(io, 5, 'Sweep again, with --since-last: the drift', 'the same sweep; what changed since the first sweep (the previous sweep of this inventory)');
    const second = await runStep(cli, io, ['sweep', ...sweepArgs, '--since-last']);
    const stillBroken = second.hosts.filter((h) => incident.includes(h.host) && findingCodes(h).some((c) => RESTART_FINDINGS.includes(c)));
    expect(!stillBroken.length, `after the restart ${stillBroken.map((h) => `${h.host} still has ${findingCodes(h).join(', ')}`).join('; ')}`);
    const unresolved = incident.filter((h) => !second.resolved.get(h)?.length);
    expect(!unresolved.length, `the drift does not show the finding resolved on ${unresolved.join(', ')}`);

    const html = reportPath(second);
    const state = shown(opts.stateDir);
    io.stdout.write(
      `\n${'='.repeat(78)}\nThe story ran as expected in ${((io.clock.now() - started) / 1000).toFixed(1)} s: ` +
        `${incident.join(', ')} found not draining, the restart predicted, failure 2 refused on ${losing}, ` +
        `auditd restarted, and the drift shows ${[...second.resolved].map(([h, c]) => `${h}: ${c.join(', ')}`).join('; ')} resolved.\n` +
        `Report (open in a browser): ${html ? shown(html) : `${shown(opts.output)}/<run-id>/report.html`}\n` +
        `History: node dist/bin/main.js runs --state-dir ${state}\n` +
        `         node dist/bin/main.js history ${losing} --state-dir ${state}\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof DemoFailed)) throw err;
    io.stderr.write(`\ndemo: the story did not run as expected: ${err.message}\n`);
    return 1;
  } finally {
    await cluster?.stop();
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
