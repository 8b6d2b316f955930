import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { maskUrl, postWebhook, runNotifyCommand } from '../../src/schedule/index.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A loopback receiver answering the nth request with replies[n] (a status, or 'hang'). */
async function receiver(replies: (number | 'hang')[]): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const reply = replies[got.length] ?? 200;
      got.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (reply === 'hang') return;
      res.writeHead(reply, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/hooks/T0KEN`, got };
}

const payload = { schema: 'fleetmend.drift/v1', event: 'drift', changed: true };

describe('postWebhook', () => {
  it('POSTs JSON with content-type application/json', async () => {
    const { url, got } = await receiver([204]);
    const r = await postWebhook(url, payload, { backoffMs: 1 });
    expect(r).toEqual({ ok: true, attempts: 1, status: 204 });
    expect(got[0]).toMatchObject({ method: 'POST', url: '/hooks/T0KEN' });
    expect(got[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got[0]!.body)).toEqual(payload);
  });

  it('retries on 500 with backoff, then succeeds', async () => {
    const { url, got } = await receiver([500, 503, 200]);
    const log: string[] = [];
    const t0 = Date.now();
    const r = await postWebhook(url, payload, { backoffMs: 50, log: (l) => log.push(l) });
    expect(r).toMatchObject({ ok: true, attempts: 3, status: 200 });
    expect(got).toHaveLength(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(50 + 100); // 50 then 100 ms
    expect(log).toEqual([expect.stringContaining('HTTP 500; retry 1/3 in 50 ms'), expect.stringContaining('HTTP 503; retry 2/3 in 100 ms')]);
    expect(log.join()).not.toContain('T0KEN'); // the URL's secret part is not logged
  });

  it('does not retry a 4xx', async () => {
    const { url, got } = await receiver([404, 200]);
    const log: string[] = [];
    const r = await postWebhook(url, payload, { backoffMs: 1, log: (l) => log.push(l) });
    expect(r).toMatchObject({ ok: false, attempts: 1, status: 404 });
    expect(got).toHaveLength(1);
    expect(log).toEqual([expect.stringContaining('HTTP 404; giving up after 1 attempt')]);
  });

  it('gives up after 3 retries on 5xx', async () => {
    const { url, got } = await receiver([500, 500, 500, 500, 200]);
    const r = await postWebhook(url, payload, { backoffMs: 1 });
    expect(r).toMatchObject({ ok: false, attempts: 4, status: 500 });
    expect(got).toHaveLength(4);
  });

  it('bounds a receiver that never answers: timeout per attempt, retried, then given up', async () => {
    const { url, got } = await receiver(['hang', 'hang']);
    const t0 = Date.now();
    const r = await postWebhook(url, payload, { timeoutMs: 200, retries: 1, backoffMs: 10 });
    const took = Date.now() - t0;
    expect(r).toMatchObject({ ok: false, attempts: 2, error: 'timed out after 200 ms' });
    expect(got).toHaveLength(2);
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(2_000);
  });

  it('retries on a network error (nothing listening) and never throws', async () => {
    const { url } = await receiver([]);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const r = await postWebhook(url, payload, { retries: 2, backoffMs: 1 });
    expect(r).toMatchObject({ ok: false, attempts: 3, error: 'ECONNREFUSED' });
  });

  it('stops retrying when the signal aborts', async () => {
    const { url, got } = await receiver([500, 500, 500, 500]);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const t0 = Date.now();
    const r = await postWebhook(url, payload, { backoffMs: 5_000, signal: ac.signal });
    expect(r.ok).toBe(false);
    expect(got).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('masks URLs in logs', () => {
    expect(maskUrl('https://hooks.slack.com/services/T0/B0/XYZ')).toBe('https://hooks.slack.com/…');
    expect(maskUrl('http://user:pw@127.0.0.1:8080/?token=x')).toBe('http://127.0.0.1:8080/…');
    expect(maskUrl('not a url')).toBe('<invalid url>');
  });
});

describe('runNotifyCommand', () => {
  it('runs the command with sh -c and the JSON on stdin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetmend-notify-'));
    try {
      const out = join(dir, 'got.json');
      const r = await runNotifyCommand(`cat > '${out}'; echo "$FLEETMEND_X" >> '${out}.env'`, payload, { env: { ...process.env, FLEETMEND_X: 'seen' } });
      expect(r).toMatchObject({ ok: true, code: 0, timedOut: false });
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(payload);
      expect(readFileSync(`${out}.env`, 'utf8')).toBe('seen\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a failing command with its stderr, without throwing', async () => {
    const log: string[] = [];
    const r = await runNotifyCommand('echo nope >&2; exit 3', payload, { log: (l) => log.push(l) });
    expect(r).toMatchObject({ ok: false, code: 3 });
    expect(log).toEqual(['notify-command: exit 3: nope']);
  });

  it('kills a command (and what it started) that runs past its timeout', async () => {
    const t0 = Date.now();
    const r = await runNotifyCommand('sleep 30 | cat', payload, { timeoutMs: 200 });
    expect(r).toMatchObject({ ok: false, timedOut: true });
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('a command that ignores stdin is fine', async () => {
    expect((await runNotifyCommand('true', { big: 'x'.repeat(1 << 20) })).ok).toBe(true);
  });
});
