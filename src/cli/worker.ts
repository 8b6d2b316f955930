import type { Command } from 'commander';
import { addConnectionOptions } from './context.js';
import type { CliIO } from './io.js';
import { promptSecret } from './prompt.js';
import { optionWithDefault, redisConnectionOptions, secondsOption } from './options.js';
import { collect, parsePositiveInt } from './util.js';
import { warmOptions, warmPool, type WarmCliOptions } from './schedule.js';
import type { ConnectionOptions } from '../run/index.js';
import type { RedisCliOptions } from '../distributed/connection.js';

interface WorkerCliOptions extends ConnectionOptions, RedisCliOptions, WarmCliOptions {
  concurrency: number;
  name?: string;
  lockDuration: number;
  verbose?: boolean;
  extraVars: string[];
  trust: string[];
  signingKey?: string;
}

export function workerCommand(program: Command, io: CliIO): Command {
  const cmd = program
    .command('worker')
    .description('distributed mode: take host jobs from Redis (sweeps, plays of `run --redis`) and do them with this machine\'s SSH setup');
  addConnectionOptions(cmd);
  return redisConnectionOptions(warmOptions(cmd).option('--redis <url>', 'the queue (default: $FLEETMEND_REDIS_URL)'))
    .option('--concurrency <n>', 'hosts at once in this worker (the coordinator\'s -f bounds all workers together)', parsePositiveInt('--concurrency'), 50)
    .option('--name <name>', 'how this worker is named in logs and results (default: HOSTNAME-PID)')
    .addOption(secondsOption('--lock-duration <seconds>', 'a dead worker\'s hosts are redelivered after this (also its heartbeat\'s TTL: placement)', 30))
    .addOption(optionWithDefault('-e, --extra-vars <key=value|json>', 'extra variables for playbook runs, over the run\'s (repeatable): the secret ones a coordinator never sends', [] as string[], collect))
    .addOption(optionWithDefault('--trust <file>', 'a coordinator public key (its .pub) whose signed jobs this worker runs (required, repeatable); anything else is refused', [] as string[], collect))
    .option('--signing-key <file>', "this worker's private key (fleetmend keygen): every result is signed; the coordinator --trust-workers its .pub (required)")
    .option('-v, --verbose', 'log every host taken and done')
    .action(async (opts: WorkerCliOptions) => {
      const { FleetmendError } = await import('../errors.js');
      const { redisInputFrom, resolveRedisTarget } = await import('../distributed/connection.js');
      const input = redisInputFrom(opts, io.env);
      if (!input) throw new FleetmendError('E_USAGE', 'worker: --redis URL (or FLEETMEND_REDIS_URL) is required');
      const redis = await resolveRedisTarget(input, io.env, (line) => io.stderr.write(`${line}\n`));
      const { runWorker, workerKeys } = await import('../distributed/index.js');
      const { redis: _r, redisPasswordFile: _rpf, redisCa: _rca, redisCert: _rce, redisKey: _rk, redisInsecure: _ri, lockDuration, trust, signingKey, maxWarm, warmIdle, cold, probeShell, ...rest } = opts;
      const keys = workerKeys(signingKey, trust);
      const pool = await warmPool({ ...(maxWarm !== undefined ? { maxWarm } : {}), warmIdle, ...(cold ? { cold } : {}), ...(probeShell === false ? { probeShell } : {}) }, (line) => io.stderr.write(`worker: ${line}\n`), io);
      try {
        io.exitCode = await runWorker(
          { ...rest, redis, lockDurationMs: Math.max(1000, lockDuration), ...keys, ...(pool ? { pool } : {}) },
          { stderr: io.stderr, env: io.env, clock: io.clock, ask: (q) => promptSecret(q), ...(io.interrupt ? { interrupt: io.interrupt } : {}) },
        );
      } finally {
        await pool?.close();
      }
    });
}
