/**
 * One host's walk through a play's task tree, as Ansible's linear strategy walks it for one host:
 * tasks in order; a failed task in a `block` stops the block and runs its `rescue` (when the
 * rescue succeeds the failure is `rescued` and the host goes on); `always` runs whatever the
 * block and rescue did. An unreachable host or an interrupt is not rescued. Tags select tasks
 * inside blocks; check mode is per task, so a block is walked the same way in both modes.
 */
import type { TaskResult } from '../results/index.js';
import { isHostFailure, RESCUED_WARNING } from './recap.js';
import { flatTasks, isBlock, type Block, type PlayTask, type Task } from './types.js';

export type Extra = Record<string, unknown>;

/** What the walk asks of the play runner (host-play.ts): it owns scopes, modules, handlers and events. */
export interface WalkHooks {
  /** Tag selection (--tags / --skip-tags). */
  selected(task: Task): boolean;
  run(task: Task, extra: Extra): Promise<TaskResult>;
  /** Why no new task may start (the batch was aborted, the run interrupted), if so. */
  stopReason(): string | undefined;
  /** Records that work was left undone because of the signal (only when it is the signal). */
  interruptedBefore(what: string): void;
  skipped(task: Task, msg: string): TaskResult;
  /** The host's failure is final: the play's or the task's any_errors_fatal may stop the batch. */
  failedFinally(task: Task): void;
  /** `meta: flush_handlers`: run the handlers notified so far; true when one ended the host. */
  flushHandlers(): Promise<boolean>;
  /** An include's loop items (a failed result when they cannot be rendered). */
  blockItems(block: Block, extra: Extra): unknown[] | TaskResult;
}

/** A result that ends the host unless a rescue takes it: unreachable, or a failure not ignored. */
export function endsHost(t: TaskResult): boolean {
  return t.status === 'unreachable' || isHostFailure(t);
}

export class HostWalk {
  readonly results: TaskResult[] = [];
  /** Topics notified by changed tasks and not yet flushed. */
  readonly notified = new Set<string>();
  ended = false;
  /** The result and task that ended the host (what a rescue sees). */
  private endedBy?: { result: TaskResult; task: Task };
  /** Depth of blocks with a rescue: a failure inside one is not final yet. */
  private rescuable = 0;
  /** Inside a block with rescue or always, the tasks after a failure are not run, and not listed. */
  private guarded = 0;

  constructor(private readonly hooks: WalkHooks) {}

  async list(tasks: readonly PlayTask[], extra: Extra): Promise<void> {
    for (const t of tasks) {
      if (isBlock(t)) await this.block(t, extra);
      else await this.task(t, extra);
    }
  }

  private async task(task: Task, extra: Extra): Promise<void> {
    if (!this.hooks.selected(task)) return;
    const stop = this.hooks.stopReason();
    if (!this.ended && stop) this.hooks.interruptedBefore(`task "${task.name}"`);
    if (this.ended && this.guarded > 0 && !stop) return;
    if (this.ended || stop) {
      this.results.push(this.hooks.skipped(task, this.ended ? 'host failed earlier in the play' : (stop as string)));
      return;
    }
    const r = await this.hooks.run(task, extra);
    this.results.push(r);
    if (r.changed) task.notify.forEach((n) => this.notified.add(n));
    if (endsHost(r)) {
      this.ended = true;
      this.endedBy = { result: r, task };
      if (this.rescuable === 0 || r.status !== 'failed') this.hooks.failedFinally(task);
    }
    // meta: flush_handlers runs the handlers notified so far, now (and only once)
    if (task.module.name === 'meta' && !this.ended) this.ended = await this.hooks.flushHandlers();
  }

  private async block(b: Block, extra: Extra): Promise<void> {
    if (!flatTasks([b]).some((t) => this.hooks.selected(t))) return;
    if (!b.loop || this.ended) return this.blockOnce(b, extra);
    const items = this.hooks.blockItems(b, extra);
    if (!Array.isArray(items)) {
      this.results.push(items);
      if (endsHost(items)) this.ended = true;
      return;
    }
    const loop = b.loop;
    for (const [i, item] of items.entries()) {
      await this.blockOnce(b, { ...extra, [loop.loopVar]: item, ansible_loop_var: loop.loopVar, ...(loop.indexVar ? { [loop.indexVar]: i } : {}) });
    }
  }

  private async blockOnce(b: Block, extra: Extra): Promise<void> {
    if (this.ended) return this.list([...b.block, ...b.rescue, ...b.always], extra);
    const start = this.results.length;
    const guard = b.rescue.length > 0 || b.always.length > 0;
    this.rescuable += b.rescue.length ? 1 : 0;
    this.guarded += guard ? 1 : 0;
    await this.list(b.block, extra);
    this.rescuable -= b.rescue.length ? 1 : 0;
    // a command the second signal aborted is the run's end, not the task's failure
    const failure = this.ended && this.endedBy?.result.status === 'failed' && this.endedBy.result.error?.code !== 'E_INTERRUPTED' ? this.endedBy : undefined;
    if (failure && b.rescue.length) await this.rescue(b, extra, start, failure);
    this.guarded -= guard ? 1 : 0;
    if (b.always.length) await this.always(b, extra);
  }

  /** The rescue: run with the failure in scope; when it succeeds, the block's failures are rescued. */
  private async rescue(b: Block, extra: Extra, start: number, failure: { result: TaskResult; task: Task }): Promise<void> {
    const rescueStart = this.results.length;
    this.ended = false;
    this.endedBy = undefined;
    await this.list(b.rescue, { ...extra, ansible_failed_task: { name: failure.task.name, action: failure.task.moduleName }, ansible_failed_result: resultVars(failure.result) });
    if (this.ended) {
      const by = this.lastEnd();
      if (by?.result.status === 'failed' && this.rescuable === 0) this.hooks.failedFinally(by.task);
      return;
    }
    // a rescue the batch's abort or the signal kept from running rescued nothing
    if (this.hooks.stopReason()) {
      this.ended = true;
      this.endedBy = failure;
      return;
    }
    for (let i = start; i < rescueStart; i++) {
      const r = this.results[i]!;
      if (isHostFailure(r)) this.results[i] = { ...r, warnings: [...(r.warnings ?? []), RESCUED_WARNING] };
    }
  }

  /** What ended the host last (read after awaits, which TypeScript's narrowing does not see). */
  private lastEnd(): { result: TaskResult; task: Task } | undefined {
    return this.endedBy;
  }

  /** `always` runs after a failure too (not after an unreachable host); the host stays failed. */
  private async always(b: Block, extra: Extra): Promise<void> {
    const before = { ended: this.ended, endedBy: this.endedBy };
    if (before.ended && before.endedBy?.result.status !== 'failed') return this.list(b.always, extra);
    this.ended = false;
    await this.list(b.always, extra);
    if (!this.ended && before.ended) {
      this.ended = true;
      this.endedBy = before.endedBy;
    }
  }
}

/** What `ansible_failed_result` shows of the failed task's result. */
function resultVars(r: TaskResult): Record<string, unknown> {
  return { failed: true, changed: r.changed, msg: r.msg ?? '', rc: r.rc ?? null, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
