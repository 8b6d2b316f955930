import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface WebhookOptions {
  /** Per attempt, connect to response end (default 10 s). */
  timeoutMs?: number;
  /** Retries after the first attempt, on network errors, timeouts and 5xx (default 3). */
  retries?: number;
  /** Backoff before retry n (1-based): base · 2^(n-1) (default 1 s: 1, 2, 4 s). */
  backoffMs?: number;
  /** Abort waiting (a second SIGTERM): no more attempts. */
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Extra request headers (e.g. a User-Agent); never logged. */
  headers?: Record<string, string>;
}

export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  /** Last HTTP status, when a response came. */
  status?: number;
  error?: string;
}

/** Webhook URLs often carry their secret in the path or query (Slack, Teams): log the origin only. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' && !u.search ? '/' : '/…'}`;
  } catch {
    return '<invalid url>';
  }
}

/**
 * POST `payload` as JSON. 2xx is delivered; 4xx is final (the receiver rejected it, a retry would
 * be rejected too); 5xx, timeouts and network errors are retried with exponential backoff.
 * Never throws: a notification must not take the scheduler down.
 */
export async function postWebhook(url: string, payload: unknown, opts: WebhookOptions = {}): Promise<DeliveryResult> {
  const retries = opts.retries ?? 3;
  const base = opts.backoffMs ?? 1000;
  const log = opts.log ?? (() => {});
  const body = Buffer.from(JSON.stringify(payload));
  let last: DeliveryResult = { ok: false, attempts: 0 };
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    if (opts.signal?.aborted) break;
    const r = await postOnce(url, body, opts.timeoutMs ?? 10_000, opts.headers ?? {});
    last = { ...r, attempts: attempt };
    if (r.ok) return last;
    const retryable = r.status === undefined || r.status >= 500;
    const why = r.status !== undefined ? `HTTP ${r.status}` : r.error;
    if (!retryable || attempt > retries) {
      log(`webhook ${maskUrl(url)}: ${why}; giving up after ${attempt} attempt${attempt === 1 ? '' : 's'}`);
      return last;
    }
    const wait = base * 2 ** (attempt - 1);
    log(`webhook ${maskUrl(url)}: ${why}; retry ${attempt}/${retries} in ${wait} ms`);
    await sleep(wait, opts.signal);
  }
  return last;
}

function postOnce(url: string, body: Buffer, timeoutMs: number, headers: Record<string, string>): Promise<Omit<DeliveryResult, 'attempts'>> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return resolve({ ok: false, status: 400, error: 'invalid URL' }); // final, like a 4xx
    }
    const request = u.protocol === 'https:' ? httpsRequest : u.protocol === 'http:' ? httpRequest : undefined;
    if (!request) return resolve({ ok: false, status: 400, error: `unsupported scheme ${u.protocol}` });
    let settled = false;
    const done = (r: Omit<DeliveryResult, 'attempts'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = request(u, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) },
    });
    // One deadline for the whole exchange: a receiver that trickles bytes cannot hold us longer.
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, error: `timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('response', (res) => {
      res.resume(); // the body is not used; drain it so the socket is freed
      res.on('end', () => done({ ok: res.statusCode! >= 200 && res.statusCode! < 300, status: res.statusCode! }));
      res.on('error', (e) => done({ ok: false, error: e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.code ?? e.message }));
    req.end(body);
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(finish, ms);
    function finish() {
      clearTimeout(t);
      signal?.removeEventListener('abort', finish);
      resolve();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}

export interface CommandOptions {
  /** Default 30 s; then SIGTERM to the command's process group, SIGKILL 2 s later. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface CommandResult {
  ok: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last 2 KiB of its stderr, for the log line. */
  stderr: string;
}

/**
 * `--notify-command CMD`: `sh -c CMD` with the JSON on stdin. It runs in its own process group so
 * that a timeout also ends what it started (a `curl` in a pipeline), never the scheduler.
 */
export function runNotifyCommand(cmd: string, payload: unknown, opts: CommandOptions = {}): Promise<CommandResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const log = opts.log ?? (() => {});
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', cmd], { stdio: ['pipe', 'ignore', 'pipe'], detached: true, env: opts.env ?? process.env });
    let stderr = '';
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      killer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 2_000);
    }, timeoutMs);
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2048);
    });
    // A command that does not read stdin closes it early: EPIPE is its choice, not a failure.
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(payload) + '\n');
    const finish = (r: CommandResult) => {
      clearTimeout(timer);
      if (killer) clearTimeout(killer);
      if (!r.ok) {
        const why = r.timedOut ? `timed out after ${timeoutMs} ms` : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
        log(`notify-command: ${why}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
      }
      resolve(r);
    };
    child.on('error', (e) => finish({ ok: false, code: null, signal: null, timedOut, stderr: e.message }));
    child.on('close', (code, signal) => finish({ ok: code === 0 && !timedOut, code, signal, timedOut, stderr }));
  });
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}
