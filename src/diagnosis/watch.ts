/**
 * The watch after a remediation (issue 27 §3): a fix is right only if the kernel agrees a while
 * later. Two samples of a changed host, `watch:` seconds apart, must show: `lost` not rising,
 * auditd registered and running (not stopped, not in D state), the backlog not growing and below
 * half the limit, no more tasks asleep on the queue than before it (those asleep before the fix
 * wake one per kauditd pass), the same boot_id (a reboot the play asked for
 * happened before the first sample). Fail-closed, as an SSM alarm that cannot be read stops
 * the rollout: a sample that does not say is a failed watch.
 */
import type { FactSample } from '../facts/types.js';
import { backlogGrowing } from './concepts.js';
import { notDraining } from './diagnose.js';

/** What is wrong with the host over the watch; empty when the fix held. Pure. */
export function watchProblems(before: FactSample, after: FactSample): string[] {
  if (before.auditctl.kind !== 'ok' || after.auditctl.kind !== 'ok') {
    const bad = before.auditctl.kind !== 'ok' ? before.auditctl : after.auditctl;
    return [`unreadable: auditctl -s ${bad.kind}${'detail' in bad ? ` (${bad.detail})` : ''}`];
  }
  const b = before.auditctl.status;
  const a = after.auditctl.status;
  const problems: string[] = [];
  if (a.lost > b.lost) problems.push(`lost rose ${b.lost} -> ${a.lost}`);
  const stuck = notDraining(after, a);
  if (stuck) problems.push(`not draining: ${stuck.why}`);
  if (backlogGrowing(b.backlog, a.backlog, a.backlog_limit)) problems.push(`backlog growing ${b.backlog} -> ${a.backlog}`);
  if (a.backlog_limit > 0 && a.backlog * 2 >= a.backlog_limit) problems.push(`backlog ${a.backlog} not below half the limit ${a.backlog_limit}`);
  if (after.stalled_tasks === undefined) problems.push('unreadable: the stalled-task scan did not finish');
  else if (after.stalled_tasks.count > (before.stalled_tasks?.count ?? 0)) {
    // tasks asleep before the fix wake one per kauditd pass, or when their backlog_wait_time
    // runs out (kernel-6.1-queue §0: one exclusive waiter per pass): a queue that drains puts no new task to sleep
    problems.push(`${after.stalled_tasks.count} task(s) asleep on the audit queue (${after.stalled_tasks.comms.join(', ')}), ${before.stalled_tasks?.count ?? 0} before the watch`);
  }
  const [bootBefore, bootAfter] = [before.system.boot_id, after.system.boot_id];
  if (!bootBefore || !bootAfter) problems.push('unreadable: boot_id');
  else if (bootBefore !== bootAfter) problems.push(`rebooted during the watch: boot_id ${bootBefore} -> ${bootAfter}`);
  return problems;
}
