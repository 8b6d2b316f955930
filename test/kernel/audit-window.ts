/**
 * Counting the audit records a piece of work adds to a real kernel's queue, read back from
 * auditd's log (issue 25 §6: a warm sweep vs a cold one). A window opens and closes with
 * `auditctl -m` markers written through one SSH session that stays open (the counter); every
 * event of that session (its markers, its shells, seds and greps: their SYSCALL and USER records
 * carry its `ses=`) is left out, so the counting does not count itself. An event's records share
 * one serial (`msg=audit(TIME:SERIAL)`), and only its SYSCALL / USER record names the session,
 * so the whole event is left out by its serial.
 */
import type { Transport } from '../../src/transport/index.js';

export interface AuditRecord {
  type: string;
  serial: number;
  /** The record's `ses=` (absent on EXECVE, PROCTITLE, PATH, CWD: they share the SYSCALL's). */
  ses: number | undefined;
  /** On an execve's SYSCALL record (x86_64: syscall 59): the program started, or the caller's on a failed lookup. */
  exe: string | undefined;
}

/** The kernel's "no session" (pam_loginuid has not run): sshd's pre-auth records carry it. */
export const UNSET_SES = 4294967295;

const RECORD = /^type=(\w+) msg=audit\(\d+\.\d+:(\d+)\):/;
// not old-ses= (the LOGIN record's session before pam_loginuid)
const SES = /(?:^|\s)ses=(\d+)/;
const EXE = /\sexe="([^"]*)"/;
const EXECVE_CALL = /\ssyscall=59\s/;

/** auditd's log lines as records; lines of any other shape are skipped, never thrown on. */
export function parseAuditLog(text: string): AuditRecord[] {
  const out: AuditRecord[] = [];
  for (const line of text.split('\n')) {
    const m = RECORD.exec(line);
    if (!m) continue;
    const ses = SES.exec(line);
    const exe = m[1] === 'SYSCALL' && EXECVE_CALL.test(line) ? EXE.exec(line) : null;
    out.push({ type: m[1]!, serial: Number(m[2]), ses: ses ? Number(ses[1]) : undefined, exe: exe ? exe[1] : undefined });
  }
  return out;
}

/** The records of the events with a serial in (begin, end) that no record ties to session `ses`. */
export function windowRecords(records: readonly AuditRecord[], begin: number, end: number, ses: number): AuditRecord[] {
  const inside = records.filter((r) => r.serial > begin && r.serial < end);
  const counters = new Set(inside.filter((r) => r.ses === ses).map((r) => r.serial));
  return inside.filter((r) => !counters.has(r.serial));
}

export function countByType(records: readonly AuditRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) out[r.type] = (out[r.type] ?? 0) + 1;
  return out;
}

/** The programs the window's execve events started (a failed lookup along PATH shows its caller). */
export function programs(records: readonly AuditRecord[]): string[] {
  return records.filter((r) => r.exe).map((r) => r.exe!);
}

export interface AuditWindow {
  records: AuditRecord[];
  byType: Record<string, number>;
  /** `lost` (auditctl -s) grew by this during the window: records the count cannot have seen. */
  lost: number;
  /** auditd's log from the window's first marker to its last, verbatim (counter's events included). */
  log: string;
}

/**
 * A regex for marker `name`'s USER record that matches neither the EXECVE record of the grep
 * or sed that searches for it (the kernel logs their arguments, and `[f]m` is not `fm`) nor
 * the one of `auditctl -m name` (no `msg='text=` before the name).
 */
const markerPattern = (name: string) => `msg='text=[${name[0]}]${name.slice(1)}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LOG = '/var/log/audit/audit.log';

export class AuditCounter {
  private windows = 0;

  private constructor(
    private readonly t: Transport,
    /** The counter's own audit session id. */
    readonly ses: number,
    /** Between reads of a window's end: a cold login's logout reaches the log after the client has gone. */
    private readonly settleMs: number,
  ) {}

  /** `t` must stay open for the counter's life: its session id is what is left out. */
  static async open(t: Transport, settleMs = 3000): Promise<AuditCounter> {
    const ses = Number((await t.exec('cat /proc/self/sessionid', { timeoutMs: 120_000 })).stdout.trim());
    if (!Number.isInteger(ses) || ses === UNSET_SES) throw new Error(`the counter's session has no audit session id (${ses}): its own records could not be told apart`);
    return new AuditCounter(t, ses, settleMs);
  }

  private async sh(cmd: string): Promise<string> {
    const r = await this.t.exec(cmd, { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`${cmd}: rc ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  private async lost(): Promise<number> {
    const m = /^lost (\d+)/m.exec(await this.sh('auditctl -s'));
    if (!m) throw new Error('no lost in auditctl -s');
    return Number(m[1]);
  }

  /**
   * Writes marker `name` and waits (bounded: 20 s) until auditd has logged it; returns the log
   * from marker `from` on (the window's records are after it, so earlier log is never read).
   */
  private async mark(name: string, from: string): Promise<{ serial: number; text: string }> {
    const text = await this.sh(
      `auditctl -m ${name} && for i in $(seq 200); do grep -q "${markerPattern(name)}" ${LOG} && break; sleep 0.1; done; sed -n "/${markerPattern(from)}/,\\$p" ${LOG}`,
    );
    const line = text.split('\n').find((l) => l.includes(`msg='text=${name} `));
    const m = line ? RECORD.exec(line) : null;
    if (!m) throw new Error(`marker ${name} not in ${LOG} within 20 s`);
    return { serial: Number(m[2]), text };
  }

  /**
   * The records `work` adds: read until the window's count stays the same over one settle
   * period (at most 8 reads), so records that arrive after `work` returned (sshd's logout) count.
   */
  async count(work: () => Promise<void>): Promise<AuditWindow> {
    const tag = `fm-window-${++this.windows}-${process.pid}`;
    const lost0 = await this.lost();
    const begin = await this.mark(`${tag}-begin`, `${tag}-begin`);
    await work();
    let records: AuditRecord[] = [];
    let log = '';
    for (let i = 0, last = -1; i < 8; i++, last = records.length) {
      await sleep(this.settleMs);
      const end = await this.mark(`${tag}-end${i}`, `${tag}-begin`);
      log = end.text;
      records = windowRecords(parseAuditLog(log), begin.serial, end.serial, this.ses);
      if (records.length === last) break;
    }
    return { records, byType: countByType(records), lost: (await this.lost()) - lost0, log };
  }
}
