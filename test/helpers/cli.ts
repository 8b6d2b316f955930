/** Runs the CLI in-process with captured output (no signal handlers installed). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/program.js';
import { noInterrupt } from '../../src/executor/interrupt.js';

/** The built binary users run (package.json "bin", the esbuild bundle); `npm test` builds it first. */
export const CLI_BIN = join(process.cwd(), 'dist', 'bin', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A stream for the CLI's stdout or stderr that keeps what was written, as text. */
export function textSink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const out = textSink();
  const err = textSink();
  const code = await main(argv, { stdout: out.stream, stderr: err.stream, interrupt: noInterrupt, env });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** Runs the built binary as a user would, in `cwd`, killed after 60 s; resolves with its exit code (null if killed) and output. */
export function spawnCli(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, env: opts.env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}
