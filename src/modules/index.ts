/** The module registry: one file per module (STYLE: "a module is small"). */
import { assertModule } from './assert.js';
import { auditStatusModule } from './audit_status.js';
import { auditctlModule } from './auditctl.js';
import { auditdConfModule } from './auditd_conf.js';
import { commandModule, shellModule } from './command.js';
import { rebootModule } from './reboot.js';
import { serviceModule } from './service.js';
import type { Module } from './types.js';

export * from './types.js';
export { panicRisks, backlogGrowing, handful, rulesFileContent, runtimeChanges, GROWTH_WARNING } from './auditctl.js';
export { rebootGuard, SCHEDULE_RE } from './reboot.js';
export { splitWords } from './command.js';
export { applySettings } from './auditd_conf.js';
export { BYTES_PER_AUDIT_BUFFER, parseBootId } from './common.js';

export const MODULES: ReadonlyMap<string, Module<any, any>> = new Map<string, Module<any, any>>(
  [auditStatusModule, auditctlModule, auditdConfModule, serviceModule, rebootModule, assertModule, commandModule, shellModule].map((m) => [m.name, m]),
);

export function moduleNames(): string[] {
  return [...MODULES.keys()].sort();
}
