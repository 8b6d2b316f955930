/**
 * The simulator: Linux hosts with an audit-queue model behind real SSH endpoints. A separate
 * "machine": it imports nothing of the runner, only the shared contracts.
 */
export { startFleet, runSimCommand, inventoryYaml, knownHostsHost } from './fleet.js';
export type { Fleet, FleetOptions, SimHost, RunSimOptions } from './fleet.js';
export { SCENARIOS, buildScenario, scenarioNames, debianSpec, rhelSpec } from './scenarios.js';
export type { Scenario, ScenarioHost, ScenarioOptions } from './scenarios.js';
export type { Fault, FaultKind } from './faults.js';
export { SimKernel, parseRules } from './kernel.js';
export type { AuditSettings, AuditdState, Flavour, KernelOptions, PowerEvent, PowerState } from './kernel.js';
export { SimMachine, DEBIAN_RULES, DEFAULT_AUDITD_CONF } from './machine.js';
export type { MachineSpec, AuditctlFlavour, OsRelease } from './machine.js';
export { Shell, CommandRegistry } from './shell.js';
export type { CommandContext, CommandHandler, ShellProcess } from './shell.js';
export { defaultRegistry, statusText } from './commands/index.js';
export { BufferOutput, StringInput, StreamInput } from './io.js';
export { FakeClock, realClock } from './clock.js';
export type { SimClock } from './clock.js';
export { HostServer, generateHostKey, fingerprintOf } from './server.js';
export { VirtualFs } from './vfs.js';
