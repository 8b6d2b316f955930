import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import type { CliIO } from './io.js';
import { sweepAction, type SweepCliOptions } from './sweep.js';
import type { HostResult } from '../executor/events.js';
import { DEFAULT_COMMAND_TIMEOUT_S, DEFAULT_MAX_OUTPUT } from './context.js';
import { DEFAULT_FORMATS } from './reports.js';
import { optionWithDefault, secondsOption } from './options.js';
import { parsePositiveInt } from './util.js';

export function simCommand(program: Command, io: CliIO): Command {
  return program
    .command('sim')
    .description('start a simulated fleet (real SSH endpoints on loopback) until SIGINT/SIGTERM')
    .option('--hosts <n>', 'number of hosts (default: the scenario size)', parsePositiveInt('--hosts'))
    .addOption(optionWithDefault('--scenario <name>', 'incident | healthy | states | faults', 'incident'))
    .option('--dir <dir>', 'where to write the inventory, known_hosts and client key')
    .option('--inventory-out <file>', 'also copy the inventory to FILE')
    .action(async (opts: { hosts?: number; scenario: string; dir?: string; inventoryOut?: string }) => {
      // the simulator is another machine: loaded only by the commands that start it
      const { runSimCommand } = await import('../sim/index.js');
      await runSimCommand({
        scenario: opts.scenario,
        dir: opts.dir ?? mkdtempSync(join(tmpdir(), 'fleetmend-sim-')),
        ...(opts.hosts ? { hosts: opts.hosts } : {}),
        ...(opts.inventoryOut ? { inventoryOut: opts.inventoryOut } : {}),
        log: (line) => io.stdout.write(`${line}\n`),
      });
    });
}

/** What an operator should read first: each host's serious findings with the safe action. */
function findingsDigest(hosts: readonly HostResult[]): string {
  const lines: string[] = [];
  for (const h of hosts) {
    if (h.error) lines.push(`  ${h.host}: ${h.status} (${h.error.code}) ${h.error.message}`);
    for (const f of h.diagnosis?.findings ?? []) {
      if (f.severity === 'low' || f.severity === 'info') continue;
      lines.push(`  ${h.host}: [${f.severity}] ${f.message}\n      → ${f.action}`);
    }
  }
  return lines.length ? `\nWhat needs attention:\n${lines.join('\n')}\n` : '\nNothing needs attention.\n';
}

interface DemoOptions {
  hosts?: number;
  scenario: string;
  output: string;
  stateDir: string;
  interval: number;
  cluster?: boolean;
  workers: number;
}

export function demoCommand(program: Command, io: CliIO): Command {
  return program
    .command('demo')
    .description('start the simulated incident fleet, sweep it, write the reports, stop the fleet')
    .option('--hosts <n>', 'number of hosts', parsePositiveInt('--hosts'))
    .addOption(optionWithDefault('--scenario <name>', 'simulated fleet scenario', 'incident'))
    .addOption(optionWithDefault('-o, --output <dir>', 'report directory', 'reports'))
    .addOption(optionWithDefault('--state-dir <dir>', 'run store location', '.fleetmend-state'))
    .addOption(secondsOption('--interval <seconds>', 'between the two samples', 2))
    .option('--cluster', 'distributed mode: a local redis-server and --workers fleetmend workers take the hosts')
    .option('--workers <n>', 'workers for --cluster', parsePositiveInt('--workers'), 3)
    .action(async (opts: DemoOptions) => {
      io.exitCode = await demoAction(opts, io);
    });
}

async function demoAction(opts: DemoOptions, io: CliIO): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetmend-demo-'));
  io.stderr.write(`starting the simulated '${opts.scenario}' fleet...\n`);
  const { startFleet } = await import('../sim/index.js');
  const fleet = await startFleet({ scenario: opts.scenario, dir, ...(opts.hosts ? { hosts: opts.hosts } : {}) });
  let cluster: Awaited<ReturnType<typeof import('../distributed/cluster.js').startLocalCluster>> | undefined;
  try {
    if (opts.cluster) {
      const { startLocalCluster } = await import('../distributed/cluster.js');
      io.stderr.write(`starting redis-server and ${opts.workers} worker(s)...\n`);
      cluster = await startLocalCluster({ dir, workers: opts.workers, inventory: fleet.inventoryPath, knownHosts: fleet.knownHostsPath, cliPath: process.argv[1]! });
    }
    const sweep: SweepCliOptions = {
      inventory: fleet.inventoryPath,
      knownHosts: fleet.knownHostsPath,
      hostKeyChecking: 'strict',
      forks: 50,
      connectTimeout: 10_000,
      commandTimeout: DEFAULT_COMMAND_TIMEOUT_S * 1000,
      maxOutput: DEFAULT_MAX_OUTPUT,
      samples: 2,
      interval: opts.interval,
      store: true,
      stateDir: opts.stateDir,
      output: opts.output,
      format: [...DEFAULT_FORMATS, 'junit'],
      ...(cluster ? { redis: cluster.redisUrl } : {}),
    };
    let highlights = '';
    let perWorker = '';
    const code = await sweepAction(sweep, {
      ...io,
      subscribers: [
        {
          onFinished: (outcome, store) => {
            if (!store) return;
            const hosts = store.getRun(outcome.run.id).hosts;
            highlights = findingsDigest(hosts);
            if (cluster) perWorker = `\nHosts per worker:\n${cluster.workers.map((w) => `  ${w}: ${hosts.filter((h) => h.worker === w).length}`).join('\n')}\n`;
          },
        },
      ],
    });
    io.stdout.write(highlights + perWorker);
    io.stdout.write(
      `\nThe demo swept ${fleet.hosts.length} simulated hosts over SSH (exit code ${code}: ` +
        `2 = a host failed or is non-compliant, 4 = unreachable, 6 = both).\n` +
        `Reports: ${relative(process.cwd(), opts.output) || '.'}/<run-id>/report.{md,html,json,junit.xml}` +
        ` (open the .html in a browser). History: node dist/bin/main.js runs --state-dir ${opts.stateDir}\n`,
    );
    return 0;
  } finally {
    await cluster?.stop();
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
