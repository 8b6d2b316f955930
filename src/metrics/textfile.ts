/**
 * `sweep --metrics-file PATH`: the node_exporter textfile collector's format (text 0.0.4, no
 * timestamps), written so the collector never reads half a file: a temporary file in the same
 * directory (rename is atomic only within one filesystem), fsync, then rename over PATH. The
 * temporary name does not end in `.prom`, which is all the collector reads.
 */
import { accessSync, closeSync, constants, fchmodSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { FleetmendError } from '../errors.js';
import type { HostResult, RunInfo } from '../results/index.js';
import { render } from './exposition.js';
import { sweepFamilies } from './sweep-metrics.js';

/**
 * Checked before any host is contacted: the directory must exist and be writable, so a typo
 * fails the command at once instead of after a ten-minute sweep. Returns a warning (or
 * undefined) for a name the collector would ignore.
 */
export function checkMetricsFile(path: string): string | undefined {
  const dir = dirname(path);
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new FleetmendError('E_USAGE', `--metrics-file ${path}: the directory ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return path.endsWith('.prom') ? undefined : `--metrics-file ${path}: node_exporter's textfile collector only reads files ending in .prom`;
}

/** Write the sweep's metrics to `path` atomically. */
export function writeMetricsFile(path: string, run: RunInfo, results: readonly HostResult[]): void {
  writeFileAtomic(path, render(sweepFamilies(run, results), 'text'));
}

export function writeFileAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o600);
    // readable by the collector whatever the umask; host names and audit states, no secrets
    fchmodSync(fd, 0o644);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* never created, or already renamed */
    }
    throw new FleetmendError('E_USAGE', `--metrics-file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * What `sweep --metrics-file PATH` does: check PATH now (before any host is contacted), then,
 * once the sweep is recorded, write the file, or keep the last complete one when the sweep was
 * interrupted (a partial sweep would read as hosts vanishing). A write error is reported, not
 * thrown: the exit code stays the sweep's, and the file's age
 * (fleetmend_sweep_last_success_timestamp_seconds) is what alerts.
 */
export function metricsFileWriter(path: string, stderr: NodeJS.WritableStream): { update(run: RunInfo, results: readonly HostResult[]): boolean } {
  const warning = checkMetricsFile(path);
  if (warning) stderr.write(`warning: ${warning}\n`);
  return {
    update(run, results) {
      if (run.interrupted) {
        stderr.write(`metrics: ${path} kept: the sweep was interrupted\n`);
        return false;
      }
      try {
        writeMetricsFile(path, run, results);
      } catch (err) {
        stderr.write(`fleetmend: ${err instanceof FleetmendError ? err.oneLine() : String(err)}\n`);
        return false;
      }
      stderr.write(`metrics: ${path}\n`);
      return true;
    },
  };
}
