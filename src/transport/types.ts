/**
 * The Transport contract: everything above this folder talks to a host only through it.
 * Implementations: ssh2 client (real OpenSSH servers and the simulator both speak SSH).
 */
export type HostKeyChecking = 'strict' | 'accept-new' | 'off';

export interface AuthSpec {
  /** Path of a private key file (OpenSSH/PEM); read when connecting. */
  privateKeyFile?: string;
  /** Passphrase for an encrypted key. Secret: never logged. */
  passphrase?: string;
  /** Password authentication. Secret: never logged. */
  password?: string;
  /** ssh-agent socket (defaults to SSH_AUTH_SOCK when unset). */
  agentSocket?: string;
  /** Set false to never use an agent, even when SSH_AUTH_SOCK is set. */
  useAgent?: boolean;
  /**
   * Candidate keys (ssh config IdentityFile, ~/.ssh defaults): unlike privateKeyFile, a missing
   * or undecryptable candidate is skipped silently, as OpenSSH does in batch mode.
   */
  identityFiles?: string[];
}

export interface BecomeSpec {
  enabled: boolean;
  user?: string;
  /** sudo password, fed on stdin. Secret: never logged. */
  password?: string;
}

export interface ConnectionSpec {
  /** Inventory name of the host (what reports show). */
  name: string;
  /** Address actually dialled (ansible_host or the name). */
  address: string;
  port: number;
  user: string;
  auth: AuthSpec;
  become: BecomeSpec;
  /** TCP connect + SSH handshake + auth must finish within this. */
  connectTimeoutMs: number;
  /**
   * TCP connect + SSH banner only (OpenSSH ConnectTimeout); defaults to connectTimeoutMs. Kept
   * apart so a short ConnectTimeout from ssh config never cuts a slow login short.
   */
  dialTimeoutMs?: number;
  /** Default per-command timeout; always set, a hung host never stalls a run. */
  commandTimeoutMs: number;
  keepaliveIntervalMs: number;
  /** Keepalives left unanswered before the connection is declared dead (default 4). */
  keepaliveCountMax?: number;
  /** Cap per command on stdout+stderr bytes kept; the rest is dropped and reported. */
  maxOutputBytes: number;
  knownHostsFile: string;
  hostKeyChecking: HostKeyChecking;
  /** Optional bastion, reached first; this host is dialled through it. */
  jump?: ConnectionSpec;
}

export interface ExecOptions {
  timeoutMs?: number;
  /**
   * sudo for this command: true forces it (play/task `become: true`), false never, undefined
   * follows the connection (`ansible_become`, `--become`), as Ansible's precedence has it.
   */
  become?: boolean;
  stdin?: string;
  maxOutputBytes?: number;
  signal?: AbortSignal;
  /** How error messages name the command (default: its first line, shortened). */
  label?: string;
  /**
   * The command reads no stdin and leaves nothing behind (the fact script): a warm connection
   * may run it in its kept probe shell (kept-shell.ts) instead of an exec channel of its own.
   */
  probe?: boolean;
}

/**
 * What a command printed before it was cut short (timeout, dropped connection, interrupt):
 * kept within the same cap as a result, and masked like one, so a caller can still use the
 * part that arrived (the sweep parses the sections a hanging host completed).
 */
export interface PartialOutput {
  stdout: string;
  stderr: string;
  /** Bytes received in total (including any dropped past the cap). */
  bytes: number;
  truncated: boolean;
}

export interface ExecResult {
  command: string;
  stdout: string;
  stderr: string;
  /** Exit status; null when the command died by signal or the channel closed without one. */
  code: number | null;
  signal?: string;
  durationMs: number;
  /** True when output beyond maxOutputBytes was dropped. */
  truncated: boolean;
  /** Bytes received in total (including the dropped part). */
  bytes: number;
}

export interface Transport {
  readonly spec: ConnectionSpec;
  connect(): Promise<void>;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
  /** `host:port` actually connected to, once connected. */
  readonly connectedAddress?: string;
  /**
   * The host's boot_id as a sample read it. A warm connection (pool.ts) that sees a second,
   * different one is never reused: the host rebooted under it.
   */
  observeBootId?(bootId: string): void;
}

/** Where the transport reports things worth a human's attention (never secrets). */
export interface TransportLogger {
  warn(message: string): void;
  debug?(message: string): void;
}
