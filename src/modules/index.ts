/** The module registry: one file per module (STYLE: "a module is small"). */
import { assertModule } from './assert.js';
import { auditStatusModule } from './audit_status.js';
import { auditctlModule } from './auditctl.js';
import { auditdConfModule } from './auditd_conf.js';
import { commandModule, shellModule } from './command.js';
import { debugModule } from './debug.js';
import { kernelCmdlineModule } from './kernel_cmdline.js';
import { failModule } from './fail.js';
import { metaModule } from './meta.js';
import { rebootModule } from './reboot.js';
import { serviceModule } from './service.js';
import { setFactModule } from './set_fact.js';
import { setupModule } from './setup.js';
import { packageFactsModule } from './package_facts.js';
import { serviceFactsModule } from './service_facts.js';
import { waitForConnectionModule } from './wait_for_connection.js';
import { lineinfileModule } from './lineinfile.js';
import { replaceModule } from './replace.js';
import { blockinfileModule } from './blockinfile.js';
import { copyModule, templateModule } from './copy.js';
import { fileModule, statModule } from './file.js';
import { aptModule, dnfModule, packageModule, yumModule } from './package.js';
import { mountModule } from './mount.js';
import type { Module } from './types.js';

export * from './types.js';
export { panicRisks, backlogGrowing, handful, rulesFileContent, runtimeChanges, GROWTH_WARNING } from './auditctl.js';
export { rebootGuard, SCHEDULE_RE } from './reboot.js';
export { splitWords } from './command.js';
export { applySettings } from './auditd_conf.js';

export const MODULES: ReadonlyMap<string, Module<any, any>> = new Map<string, Module<any, any>>(
  [
    auditStatusModule,
    auditctlModule,
    auditdConfModule,
    serviceModule,
    rebootModule,
    assertModule,
    commandModule,
    shellModule,
    debugModule,
    setFactModule,
    failModule,
    metaModule,
    waitForConnectionModule,
    kernelCmdlineModule,
    setupModule,
    packageFactsModule,
    serviceFactsModule,
    lineinfileModule,
    replaceModule,
    blockinfileModule,
    copyModule,
    templateModule,
    fileModule,
    statModule,
    packageModule,
    aptModule,
    dnfModule,
    yumModule,
    mountModule,
  ].map((m) => [m.name, m]),
);

/** Ansible's names for fleetmend modules: `systemd` and `systemd_service` are `service` (any unit). */
const ANSIBLE_NAMES: Record<string, string> = { systemd: 'service', systemd_service: 'service' };
/**
 * The modules that exist in ansible-core under `ansible.builtin` (or are that name's alias here):
 * only these take the fully qualified name. An allow-list, not a list of exceptions: a module
 * fleetmend adds (`auditd_conf`, `audit_status`, `auditctl`) is never advertised as
 * `ansible.builtin.X`, which ansible-playbook would reject (issue 24 item 8).
 */
const ANSIBLE_BUILTIN = new Set(['apt', 'assert', 'blockinfile', 'command', 'copy', 'debug', 'dnf', 'fail', 'file', 'lineinfile', 'meta', 'package', 'package_facts', 'reboot', 'replace', 'service', 'service_facts', 'set_fact', 'setup', 'shell', 'stat', 'systemd', 'systemd_service', 'template', 'wait_for_connection', 'yum']);

/**
 * The module a task key names: fleetmend's name, Ansible's short name, or the fully qualified
 * `ansible.builtin.X` / `ansible.legacy.X` (and `ansible.posix.mount`) of the modules fleetmend implements.
 */
export function resolveModule(key: string): Module<any, any> | undefined {
  const fq = /^ansible\.(builtin|legacy|posix)\.([a-z_]+)$/.exec(key);
  const short = fq ? (fq[2] as string) : key;
  if (fq && fq[1] !== 'posix' && !ANSIBLE_BUILTIN.has(short)) return undefined;
  // ansible.posix holds mount (the one module of that collection fleetmend implements)
  if (fq?.[1] === 'posix' && short !== 'mount') return undefined;
  return MODULES.get(ANSIBLE_NAMES[short] ?? short);
}

export function moduleNames(): string[] {
  return [...MODULES.keys()].sort();
}

/** The Ansible names accepted (for messages). */
export function ansibleModuleNames(): string[] {
  const shorts = [...MODULES.keys(), ...Object.keys(ANSIBLE_NAMES)].filter((n) => ANSIBLE_BUILTIN.has(n));
  return shorts.map((n) => `ansible.builtin.${n}`).sort();
}
