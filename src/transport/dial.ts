/**
 * The first two phases of a connection, timed separately so the error says which one stalled:
 * TCP connect (refused → E_CONNECT, silence → E_CONNECT_TIMEOUT) and the SSH identification
 * banner (TCP accepted but nothing said → E_BANNER_TIMEOUT: an overloaded sshd, a tarpit, or a
 * non-SSH service on the port).
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FleetmendError } from '../errors.js';

/**
 * A timer that, when it fires, first lets pending I/O run once (setImmediate after the poll
 * phase): with a busy event loop, a connect or banner that already arrived must win over the timer.
 */
function graceTimer(ms: number, fire: () => void): NodeJS.Timeout {
  return setTimeout(() => setImmediate(fire), ms);
}

export function dialTcp(address: string, port: number, timeoutMs: number, host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host: address, port });
    let settled = false;
    const onError = (err: NodeJS.ErrnoException): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const code = err.code ?? 'error';
      const what = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'cannot resolve the address' : err.message;
      reject(new FleetmendError('E_CONNECT', `cannot connect to ${address}:${port}: ${what} (${code})`, { host, cause: err }));
    };
    const timer = graceTimer(timeoutMs, () => {
      if (settled) return;
      settled = true;
      sock.removeListener('error', onError);
      sock.on('error', () => undefined);
      sock.destroy();
      reject(new FleetmendError('E_CONNECT_TIMEOUT', `TCP connect to ${address}:${port} did not complete within ${timeoutMs} ms`, { host }));
    });
    sock.once('error', onError);
    sock.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.removeListener('error', onError);
      // ssh2 attaches its own error handler; until then a reset must not crash the process
      sock.on('error', () => undefined);
      resolve(sock);
    });
  });
}

/**
 * Wait for the server's first bytes (SSH servers speak first, RFC 4253 §4.2), then put them back
 * and pause, so ssh2 reads the stream from the very beginning.
 */
export function waitForBanner(sock: Duplex, timeoutMs: number, host: string, where: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      sock.removeListener('data', onData);
      sock.removeListener('end', onEnd);
      sock.removeListener('close', onEnd);
      sock.removeListener('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      sock.pause();
      cleanup();
      sock.unshift(chunk);
      resolve();
    };
    const onEnd = (): void => {
      cleanup();
      reject(new FleetmendError('E_CONNECT', `${where} closed the connection before sending an SSH banner`, { host }));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new FleetmendError('E_CONNECT', `${where}: ${err.message} before the SSH banner`, { host, cause: err }));
    };
    let settled = false;
    const timer = graceTimer(timeoutMs, () => {
      if (settled) return;
      cleanup();
      sock.destroy();
      reject(new FleetmendError('E_BANNER_TIMEOUT', `${where} accepted the TCP connection but sent no SSH banner within ${timeoutMs} ms`, { host }));
    });
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('close', onEnd);
    sock.once('error', onError);
  });
}
