import { randomBytes } from 'node:crypto';

/**
 * A run's nonce: 96 random bits that host output cannot guess (the facts script's section
 * markers, the become prompt). Hex only: sudo expands `%u`/`%h`/`%p` in a prompt, and the shell
 * must see one plain word.
 */
export function newNonce(): string {
  return randomBytes(12).toString('hex');
}
