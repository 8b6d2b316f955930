/**
 * The error hierarchy: every error fleetmend reports carries a stable `code` so that the
 * terminal, the store and the reports can classify it without parsing messages.
 */
export type ErrorCode =
  // bad input (exit 1, nothing contacted)
  | 'E_USAGE'
  | 'E_YAML'
  | 'E_SCHEMA'
  | 'E_INVENTORY'
  | 'E_PATTERN'
  | 'E_KEYFILE'
  | 'E_TEMPLATE'
  | 'E_SHELL_QUOTE'
  | 'E_POLICY'
  | 'E_PLAYBOOK'
  | 'E_EXPR'
  | 'E_LOCKED_RUN'
  | 'E_UNSAFE_PATH'
  | 'E_STORE'
  /** Distributed mode: Redis unreachable or refusing (exit 1 before any job is queued). */
  | 'E_QUEUE'
  /** Distributed mode: a worker refused a job (unsigned, untrusted key, altered, expired, replayed). */
  | 'E_SIGNATURE'
  /** Distributed mode: the coordinator refused a worker's result (unsigned, untrusted, another job or host, bad shape). */
  | 'E_RESULT_REJECTED'
  /** Distributed mode: no worker took a job within --no-worker-timeout; the host was not started. */
  | 'E_NO_WORKER'
  // per host: unreachable
  | 'E_CONNECT'
  | 'E_CONNECT_TIMEOUT'
  | 'E_BANNER_TIMEOUT'
  | 'E_HOSTKEY_UNKNOWN'
  | 'E_HOSTKEY_CHANGED'
  | 'E_HOSTKEY_REVOKED'
  | 'E_AUTH'
  | 'E_DISCONNECTED'
  // per host: failed
  | 'E_CMD_TIMEOUT'
  | 'E_BECOME'
  | 'E_OUTPUT_CAP'
  | 'E_PARSE'
  | 'E_MODULE'
  /** A playbook used a variable that is not defined for the host (Ansible's "'x' is undefined"). */
  | 'E_UNDEFINED'
  | 'E_GUARD'
  | 'E_INTERRUPTED'
  /** Not started: a run-wide failure budget or the canary held the rollout (issue 27). */
  | 'E_HELD'
  /** A changed host failed its watch, or could not be read during it (issue 27). */
  | 'E_WATCH'
  | 'E_INTERNAL';

/** Codes meaning "we could not talk to the host at all" (Ansible's UNREACHABLE). */
export const UNREACHABLE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'E_CONNECT',
  'E_CONNECT_TIMEOUT',
  'E_BANNER_TIMEOUT',
  'E_HOSTKEY_UNKNOWN',
  'E_HOSTKEY_CHANGED',
  'E_HOSTKEY_REVOKED',
  'E_AUTH',
  'E_DISCONNECTED',
]);

export interface SourcePosition {
  file: string;
  line?: number;
  column?: number;
}

export class FleetmendError extends Error {
  readonly code: ErrorCode;
  readonly host?: string;
  readonly position?: SourcePosition;
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { host?: string; position?: SourcePosition; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'FleetmendError';
    this.code = code;
    if (opts.host !== undefined) this.host = opts.host;
    if (opts.position !== undefined) this.position = opts.position;
    if (opts.details !== undefined) this.details = opts.details;
  }

  /** One line for the terminal: `file:line:col: message` or `host: message`. */
  oneLine(): string {
    const where = this.position
      ? [this.position.file, this.position.line, this.position.column].filter((x) => x !== undefined).join(':')
      : this.host;
    return `${where ? `${where}: ` : ''}${this.message} [${this.code}]`;
  }
}

/** Normalise anything thrown into a FleetmendError (unknown errors become E_INTERNAL). */
export function toFleetmendError(err: unknown, host?: string): FleetmendError {
  if (err instanceof FleetmendError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FleetmendError('E_INTERNAL', message, { ...(host !== undefined ? { host } : {}), cause: err });
}
