/**
 * `run --syntax-check`, `--list-tasks` and `--list-hosts`, as ansible-playbook prints them: the
 * playbook is loaded and validated (and the inventory read, for the hosts), no host is
 * contacted and nothing is recorded. `--start-at-task` and `--limit` shape the lists as they
 * would shape the run.
 */
import { loadInventory, selectHosts } from '../inventory/index.js';
import { flatTasks, loadPlaybook, type Playbook } from '../playbook/index.js';
import { expandLimit, startingAt } from '../run/playbook.js';
import { escapeControls, terminalLine } from '../util/terminal.js';

export interface ListingOptions {
  syntaxCheck?: boolean;
  listTasks?: boolean;
  listHosts?: boolean;
  startAtTask?: string;
  limit?: string;
  /** Resolved by the caller (-i, ANSIBLE_INVENTORY, ansible.cfg); only --list-hosts reads it. */
  inventory?: string;
}

export const wantsListing = (o: ListingOptions): boolean => !!(o.syntaxCheck || o.listTasks || o.listHosts);

const tags = (list: readonly string[]): string => `TAGS: [${list.join(', ')}]`;

function playHead(pb: Playbook, i: number): string {
  const play = pb.plays[i]!;
  return `  play #${i + 1} (${terminalLine(play.hosts)}): ${terminalLine(play.name)}\t${tags([])}`;
}

/** The lines to print for the listing options asked for (in Ansible's order: hosts, then tasks). */
export async function playbookListing(file: string, opts: ListingOptions): Promise<string[]> {
  const pb = startingAt(await loadPlaybook(file), opts.startAtTask);
  const out = ['', `playbook: ${terminalLine(file)}`];
  if (!opts.listHosts && !opts.listTasks) return out; // --syntax-check: loading it was the check
  const inv = opts.listHosts && opts.inventory ? await loadInventory(opts.inventory) : undefined;
  const limit = await expandLimit(opts.limit);
  const limited = inv && limit ? new Set(selectHosts(inv, limit)) : undefined;
  for (const [i, play] of pb.plays.entries()) {
    out.push('', playHead(pb, i));
    if (inv) {
      const hosts = selectHosts(inv, play.hosts).filter((h) => !limited || limited.has(h));
      out.push(`    pattern: ['${terminalLine(play.hosts)}']`, `    hosts (${hosts.length}):`, ...hosts.map((h) => `      ${escapeControls(h)}`));
    }
    if (opts.listTasks) out.push('    tasks:', ...flatTasks(play.tasks).map((t) => `      ${terminalLine(t.name)}\t${tags(t.tags)}`));
  }
  return out;
}
