import type { RunSummary } from '../results/index.js';
import { redact } from '../secrets/index.js';
import { renderDriftText } from './render.js';
import type { Drift, HostChangeKind, HostDrift } from './types.js';

export const NOTIFICATION_SCHEMA = 'fleetmend.drift/v1';

/**
 * The JSON a webhook receives (POST body) and a `--notify-command` reads on stdin.
 *
 * ```jsonc
 * {
 *   "schema": "fleetmend.drift/v1",
 *   "event": "drift",              // drift | no-change | baseline | run-failed
 *   "changed": true,               // drift.changed: what --notify changes filters on
 *   "inventory": "/etc/fleetmend/prod.yml",
 *   "run": { "id": "20251125T100000Z-a1b2c3", "mode": "sweep", "started_at": "…", "finished_at": "…",
 *            "status": "finished", "exit_code": 2, "summary": { "hosts": 40, "ok": 37, … } },
 *   "previous_run": { "id": "…", "started_at": "…" },   // null for the baseline run
 *   "hosts_changed": 2,
 *   "counts": { "became-unreachable": 1, "lost-increased": 1, "new-finding": 1 },
 *   "hosts": [ { "host": "web007", "changes": [
 *       { "kind": "lost-increased", "by": 120, "from": 7880, "to": 8000, "since_reboot": false },
 *       { "kind": "new-finding", "code": "records-lost", "severity": "critical", "message": "…" } ] } ],
 *   "hosts_omitted": 0,            // hosts beyond `maxHosts` (counted in hosts_changed, not listed)
 *   "notes": [],
 *   "text": "drift: 2 hosts changed since run …\n…",   // renderDriftText, for chat hooks
 *   "error": null                  // run-failed only: why no run was recorded (exit code 1)
 * }
 * ```
 * Change kinds and their fields: `HostChange` in types.ts. What is never in it: inventory
 * variables, connection options, the command line, the webhook URL; values under secret-named
 * keys are dropped as in the store (`redact`).
 */
export interface DriftNotification {
  schema: typeof NOTIFICATION_SCHEMA;
  event: 'drift' | 'no-change' | 'baseline' | 'run-failed';
  changed: boolean;
  inventory: string | null;
  run: {
    id: string;
    mode: 'sweep' | 'run';
    started_at: string;
    finished_at: string | null;
    status: string | null;
    exit_code: number;
    summary: RunSummary | null;
  } | null;
  previous_run: { id: string; started_at: string } | null;
  hosts_changed: number;
  counts: Partial<Record<HostChangeKind, number>>;
  hosts: HostDrift[];
  hosts_omitted: number;
  notes: string[];
  text: string;
  error: string | null;
}

export interface NotificationContext {
  exitCode: number;
  summary?: RunSummary;
  /** Cap on listed hosts, so a fleet-wide change stays a reasonable POST (default 500). */
  maxHosts?: number;
}

export function driftNotification(drift: Drift, ctx: NotificationContext): DriftNotification {
  const max = ctx.maxHosts ?? 500;
  return redact({
    schema: NOTIFICATION_SCHEMA,
    event: !drift.previous ? 'baseline' : drift.changed ? 'drift' : 'no-change',
    changed: drift.changed,
    inventory: drift.inventory ?? null,
    run: {
      id: drift.current.id,
      mode: drift.current.mode,
      started_at: drift.current.started_at,
      finished_at: drift.current.finished_at ?? null,
      status: drift.current.status ?? null,
      exit_code: ctx.exitCode,
      summary: ctx.summary ?? null,
    },
    previous_run: drift.previous ? { id: drift.previous.id, started_at: drift.previous.started_at } : null,
    hosts_changed: drift.hosts.length,
    counts: drift.counts,
    hosts: drift.hosts.slice(0, max),
    hosts_omitted: Math.max(0, drift.hosts.length - max),
    notes: drift.notes,
    text: renderDriftText({ ...drift, hosts: drift.hosts.slice(0, max) }),
    error: null,
  });
}

/** A scheduled run that recorded nothing (bad input, a lock held elsewhere): exit code 1. */
export function runFailedNotification(inventory: string | undefined, exitCode: number, error: string): DriftNotification {
  return {
    schema: NOTIFICATION_SCHEMA,
    event: 'run-failed',
    changed: false,
    inventory: inventory ?? null,
    run: null,
    previous_run: null,
    hosts_changed: 0,
    counts: {},
    hosts: [],
    hosts_omitted: 0,
    notes: [],
    text: `fleetmend: scheduled run of ${inventory ?? 'the inventory'} failed (exit ${exitCode}): ${error}\n`,
    error,
  };
}
