/** Public surface of the transport layer. Nothing here knows about audit, playbooks or reports. */
export type * from './types.js';
export { Ssh2Transport, type Ssh2TransportOptions, type BastionLease, type BastionProvider } from './ssh2.js';
export { CommandCutShort, partialOutputOf } from './output.js';
export { TransportFactory, BastionPool, withinOwnBecome, type TransportFactoryOptions } from './factory.js';
export { ConnectionPool, PooledTransport, DEFAULT_MAX_CHANNELS, openWarmPool, type WarmPoolOptions, type PoolOptions, type PoolStats, type RunLinks } from './pool.js';
export { fdBudget, readNofileLimit, raiseNofileLimit, type FdBudget } from './fd-budget.js';
export {
  KnownHosts,
  KnownHostsCache,
  parseKnownHosts,
  lookupHostKey,
  fingerprintSha256,
  hashHostName,
  knownHostsName,
  keyTypeOfBlob,
  matchHostPatterns,
  matchWildcard,
  type KnownHostEntry,
  type HostKeyLookup,
  type KnownHostsOptions,
  type ParsedKnownHosts,
  type VerifyRequest,
} from './knownhosts.js';
export { shellQuote, buildBecomeCommand, needsBecome, detectSudoFailure, BecomeDialog, type BecomeCommand, type BecomeMarkers, type DialogAction } from './become.js';
export { loadPrivateKey, expandTilde } from './auth.js';
export { buildConnectionSpec, DEFAULTS, type CliConnectionDefaults, type InventoryConnectionVars } from './spec.js';
export { resolveSshConfig, loadSshConfig, parseSshConfig, parseProxyJump, parseJumpHop, mapStrictHostKeyChecking, type SshOptions, type JumpHop } from './sshconfig.js';
export { parseSshCommonArgs, parseProxyCommand, splitShellWords, type SshCommonArgs } from './commonargs.js';
