/**
 * Options whose `--help` default is written the way a user types it. Commander prints a default
 * as JSON of the parsed value: milliseconds under a `<seconds>` label, `["md","html","json"]`
 * for a list, quotes around a word. These helpers keep the parsed value (what the code uses) and
 * show the text that, given on the command line, parses to that same value (test/unit/cli-help).
 */
import { Argument, Option, type Command } from 'commander';
import { collect, parseSeconds } from './util.js';

function longName(flags: string): string {
  return /--[A-Za-z0-9-]+/.exec(flags)?.[0] ?? flags;
}

/** `<seconds>` on the command line (decimals allowed), milliseconds in the program. */
export function secondsOption(flags: string, description: string, seconds: number): Option {
  return new Option(flags, description).argParser(parseSeconds(longName(flags))).default(Math.round(seconds * 1000), String(seconds));
}

/** Manual runs wait this long for a scheduled sweep of the same inventory (it takes seconds). */
export const DEFAULT_WAIT_LOCK_S = 60;

/** `--wait-lock`, the same for `sweep` and `run` (a scheduled run already holds the lock). */
export function waitLockOption(): Option {
  return secondsOption('--wait-lock <seconds>', 'wait this long for another sweep or run of the inventory (a scheduled one) to finish; 0: fail at once (exit 75)', DEFAULT_WAIT_LOCK_S);
}

/** `--redis` and the distributed options, the same for `sweep` and `run`; `what` says what a worker takes. */
export function redisOptions(cmd: Command, what: string): Command {
  return redisConnectionOptions(cmd.option('--redis <url>', `distributed mode: ${what} on \`fleetmend worker\`s (default: $FLEETMEND_REDIS_URL)`))
    .addOption(secondsOption('--redis-timeout <seconds>', 'Redis unreachable this long mid-run: the run ends interrupted (exit 130)', 10))
    .option('--signing-key <file>', 'with --redis (required): the coordinator key every job is signed with (fleetmend keygen); workers --trust its .pub')
    .addOption(optionWithDefault('--trust-workers <file|dir>', "with --redis (required, repeatable): worker public keys whose results are believed (a directory: every *.pub in it)", [] as string[], collect))
    // commander reads `--no-X <v>` as option X (true unless given): the value arrives as workerTimeout
    .addOption(new Option('--no-worker-timeout <seconds>', 'with --redis: no worker took any job this long, the run ends (hosts not started, retry file) instead of waiting').argParser(parseSeconds('--no-worker-timeout')));
}

/** How to reach the Redis (coordinators and `worker` alike): password, TLS, the loopback rule. */
export function redisConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--redis-password-file <file>', 'the Redis password (AUTH / ACL user) from FILE, kept out of ps (default: $FLEETMEND_REDIS_PASSWORD_FILE, else $FLEETMEND_REDIS_PASSWORD)')
    .option('--redis-ca <file>', 'rediss://: trust only this CA for the server\'s certificate (default: $FLEETMEND_REDIS_CA, else the system\'s)')
    .option('--redis-cert <file>', 'rediss://: client certificate, with --redis-key (default: $FLEETMEND_REDIS_CERT)')
    .option('--redis-key <file>', 'rediss://: the client certificate\'s key (default: $FLEETMEND_REDIS_KEY)')
    .option('--redis-insecure', 'allow plain redis:// without a password to a non-loopback address');
}

/** How a default reads in `--help`: a list comma-separated (`none` when empty), anything else as text. */
export function shownDefault(value: unknown): string {
  if (Array.isArray(value)) return value.length ? value.join(',') : 'none';
  return String(value);
}

/** An option with a default shown as typed (`strict`, `md,html,json`), optionally parsed. */
export function optionWithDefault<T>(flags: string, description: string, value: T, parse?: (v: string, previous: T) => T): Option {
  const opt = new Option(flags, description);
  if (parse) opt.argParser(parse);
  return opt.default(value, shownDefault(value));
}

/** A positional argument with a default shown as typed. */
export function argumentWithDefault(name: string, description: string, value: string): Argument {
  return new Argument(name, description).default(value, value);
}
