import { UNREACHABLE_CODES, type ErrorCode } from '../errors.js';
import type { HostStatus, TaskStatus } from './types.js';

/**
 * The one map from an error code to a status. A task has no `interrupted` status: a task whose
 * command the second signal aborted failed, and the host it ended is `interrupted`.
 */
export function taskStatusOfCode(code: ErrorCode): Extract<TaskStatus, 'failed' | 'unreachable'> {
  return UNREACHABLE_CODES.has(code) ? 'unreachable' : 'failed';
}

export function hostStatusOfCode(code: ErrorCode): Extract<HostStatus, 'failed' | 'unreachable' | 'interrupted'> {
  return code === 'E_INTERRUPTED' ? 'interrupted' : taskStatusOfCode(code);
}
