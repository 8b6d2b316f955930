/**
 * gather_facts unset (Ansible's default is on): fleetmend gathers when the play reads a fact, so
 * a play written for Ansible that reads ansible_os_family works unchanged, and a play that reads
 * none pays no gathering round trip. An explicit gather_facts: true/false is obeyed.
 */
import { describe, expect, it } from 'vitest';
import { parsePlaybook } from '../../src/playbook/load.js';
import { flatTasks } from '../../src/playbook/types.js';

const first = (yaml: string) => flatTasks(parsePlaybook('pb.yml', yaml).plays[0]!.tasks)[0]!;
const play = (head: string, task: string) => `- hosts: all\n${head}  tasks:\n${task}`;

describe('gather_facts unset', () => {
  it('gathers when a condition reads a fact', () => {
    const t = first(play('', "    - debug: { msg: hi }\n      when: ansible_os_family == 'Debian'\n"));
    expect(t.name).toBe('Gathering Facts');
    expect(t.moduleName).toBe('setup');
  });

  it('gathers when an argument, a loop or task vars read ansible_facts', () => {
    expect(first(play('', '    - debug: { msg: "{{ ansible_facts.distribution }}" }\n')).name).toBe('Gathering Facts');
    expect(first(play('', '    - debug: { msg: "{{ item }}" }\n      loop: "{{ ansible_mounts }}"\n')).name).toBe('Gathering Facts');
    expect(first(play('', '    - debug: { msg: "{{ x }}" }\n      vars: { x: "{{ ansible_distribution_major_version }}" }\n')).name).toBe('Gathering Facts');
  });

  it('does not gather for a play that reads none (magic and connection vars are not facts)', () => {
    const t = first(play('', '    - debug: { msg: "{{ inventory_hostname }} {{ ansible_check_mode }} {{ ansible_host | d(1) }}" }\n'));
    expect(t.moduleName).toBe('debug');
  });

  it('an explicit gather_facts is obeyed either way', () => {
    expect(first(play('  gather_facts: false\n', "    - debug: { msg: hi }\n      when: ansible_os_family == 'Debian'\n")).moduleName).toBe('debug');
    expect(first(play('  gather_facts: true\n', '    - debug: { msg: hi }\n')).name).toBe('Gathering Facts');
  });
});
