import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FleetmendError } from '../errors.js';
import { isoNow } from '../executor/clock.js';
import type { RunInfo } from '../executor/events.js';
import { exitCodeFor, runHosts, summarize } from '../executor/index.js';
import { formatRecap, loadPlaybook, parseExtraVars, runPlaybook, type PlaybookHost } from '../playbook/index.js';
import { resolveTargets, type ConnectionOptions } from './context.js';
import { writeJsonDocument } from './output.js';
import { prepareRenderer, writeRunReports, type ReportOptions } from './reports.js';
import { RunSession } from './session.js';
import type { CliIO } from './sweep.js';
import { newRunId } from './util.js';
import { selectHosts as selectPattern } from '../inventory/index.js';
import { terminalLine, terminalText } from '../util/terminal.js';

export interface RunCliOptions extends ConnectionOptions, ReportOptions {
  check?: boolean;
  diff?: boolean;
  extraVars: string[];
  tags?: string;
  skipTags?: string;
  json?: boolean;
  stateDir?: string;
  store: boolean;
  quiet?: boolean;
  verbose?: boolean;
  resume?: string;
}

/** `--limit @file` reads host names from a retry file, like ansible-playbook. */
async function expandLimit(limit: string | undefined): Promise<string | undefined> {
  if (!limit?.startsWith('@')) return limit;
  const file = limit.slice(1);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FleetmendError('E_USAGE', `cannot read retry file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const names = text.split('\n').map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new FleetmendError('E_PATTERN', `retry file ${file} names no host`);
  return names.join(':');
}

export async function runAction(playbookFile: string, opts: RunCliOptions, io: CliIO): Promise<number> {
  // validate everything before any host is contacted (exit 1)
  const playbook = await loadPlaybook(playbookFile);
  const extraVars = parseExtraVars(opts.extraVars);
  const limit = await expandLimit(opts.limit);
  const { inventory, targets, specs } = await resolveTargets({ ...opts, ...(limit ? { limit } : {}) }, io.env);
  for (const w of inventory.warnings) io.stderr.write(`warning: ${terminalLine(w)}\n`);
  const renderer = await prepareRenderer(opts);

  const run: RunInfo = {
    id: newRunId(io.clock.now()),
    mode: 'run',
    started_at: isoNow(io.clock),
    forks: opts.forks,
    inventory: resolve(opts.inventory),
    playbook: resolve(playbookFile),
    check: !!opts.check,
    ...(limit ? { limit } : {}),
    ...(opts.resume ? { resumed_from: opts.resume } : {}),
  };
  const session = await RunSession.open(run, io, { store: opts.store, ...(opts.stateDir ? { stateDir: opts.stateDir } : {}), quiet: !!opts.quiet, inventory: opts.inventory, diff: !!opts.diff });
  try {
    const skip = opts.resume ? finishedHosts(session, opts.resume) : new Set<string>();
    if (skip.size) io.stderr.write(`resume ${opts.resume}: ${skip.size} host(s) already done, skipped\n`);
    const selected = new Map<string, PlaybookHost>();
    for (const t of targets) {
      if (skip.has(t.name)) continue;
      selected.set(t.name, { ...t, vars: inventory.hosts.get(t.name)?.vars ?? {} });
    }
    session.start([...selected.keys()]);
    session.listener({ type: 'run-start', run, hosts: [...selected.keys()] });
    const result = await runPlaybook(playbook, {
      selectHosts: (pattern) => {
        const names = new Set(selectPattern(inventory, pattern));
        return [...selected.values()].filter((h) => names.has(h.name));
      },
      connect: (host) => session.connect(specs.get(host.name)!),
      runHosts: (hosts, job) =>
        runHosts(hosts, job, { forks: opts.forks, clock: io.clock, interrupt: session.interrupt, onEvent: session.listener }),
      extraVars,
      check: !!opts.check,
      diff: !!opts.diff,
      ...(opts.tags ? { tags: opts.tags.split(',') } : {}),
      ...(opts.skipTags ? { skipTags: opts.skipTags.split(',') } : {}),
      clock: io.clock,
      onEvent: session.listener,
      signal: session.interrupt.stopStarting,
    });
    const summary = summarize(result.hosts);
    const finished: RunInfo = { ...run, finished_at: isoNow(io.clock), ...(session.interrupt.interrupted ? { interrupted: true } : {}) };
    session.listener({ type: 'run-end', run: finished, summary });
    session.finish(finished, summary, result.hosts, () => true);
    const retry = session.writeRetryFile(opts.stateDir, result.hosts);
    const written = await writeRunReports(opts, finished, summary, result.hosts, session.store, renderer);
    if (opts.json) {
      writeJsonDocument(io.stdout, finished, summary, result.hosts, { recap: result.recap, stopped: result.stopped ?? null });
    } else {
      io.stdout.write(`\nPLAY RECAP ${'*'.repeat(60)}\n${terminalText(formatRecap(result.recap, { fold: !opts.verbose }))}\n`);
      if (result.stopped) io.stdout.write(`rollout stopped: ${terminalLine(result.stopped.reason)}\n`);
    }
    if (retry) io.stderr.write(`retry file: ${retry} (use --limit @${retry}, or --resume ${run.id})\n`);
    for (const f of written) io.stderr.write(`report: ${f}\n`);
    await io.onRunFinished?.(finished, summary, session.store);
    return exitCodeFor(summary, session.interrupt.interrupted);
  } finally {
    session.dispose();
  }
}


/** Hosts that finished ok/changed in the run being resumed, and in the runs it resumed. */
function finishedHosts(session: RunSession, runId: string): Set<string> {
  if (!session.store) throw new FleetmendError('E_USAGE', '--resume needs the run store (drop --no-store)');
  const done = new Set<string>();
  let id: string | undefined = runId;
  for (let depth = 0; id && depth < 50; depth++) {
    const prev = session.store.getRun(id);
    if (prev.run.mode !== 'run') throw new FleetmendError('E_USAGE', `run ${id} is a ${prev.run.mode}, not a playbook run`);
    for (const h of prev.hosts) if (h.status === 'ok' || h.status === 'changed') done.add(h.host);
    id = prev.run.resumed_from;
  }
  return done;
}
