import { FleetmendError, type ErrorCode } from '../errors.js';
import type { PartialOutput } from './types.js';

/**
 * Output kept per command: stdout+stderr share one cap so a hostile or broken host sending tens of
 * MB cannot exhaust memory. The first byte over the cap ends the command (see Ssh2Transport.exec):
 * nothing past it is read into the runner, and the SSH window stops the sender.
 */
export class CappedOutput {
  private readonly out = new ByteText();
  private readonly err = new ByteText();
  private kept = 0;
  bytes = 0;
  truncated = false;

  constructor(private readonly cap: number) {}

  /** First bytes of stderr regardless of the cap: where sudo writes its refusals. */
  private head = Buffer.alloc(0);

  /** Keeps what fits; returns true once anything had to be dropped (the cap is reached). */
  push(which: 'stdout' | 'stderr', chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (which === 'stderr' && this.head.length < 4096) this.head = Buffer.concat([this.head, chunk.subarray(0, 4096 - this.head.length)]);
    const room = this.cap - this.kept;
    if (room <= 0) {
      if (chunk.length > 0) this.truncated = true;
      return this.truncated;
    }
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (part.length < chunk.length) this.truncated = true;
    (which === 'stdout' ? this.out : this.err).push(part);
    this.kept += part.length;
    return this.truncated;
  }

  /** UTF-8 with U+FFFD for invalid sequences: binary output never throws. */
  stdout(): string {
    return this.out.text();
  }

  stderrHead(): string {
    return this.head.toString('utf8');
  }

  stderr(): string {
    return this.err.text();
  }
}

/**
 * Bytes kept in one buffer that doubles as needed, decoded once at the end: ssh2's packet
 * buffers are garbage as soon as they are copied in, and nothing is copied a third time
 * (a list of chunks costs a concat and a decode, each the size of the cap).
 */
class ByteText {
  private buf = Buffer.alloc(0);
  private len = 0;
  private decoded?: string;

  push(chunk: Buffer): void {
    if (this.len + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.len + chunk.length, 2 * this.buf.length, 16 * 1024));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.len);
    this.len += chunk.length;
  }

  /** UTF-8 with U+FFFD for invalid sequences (a character cut by the cap too); frees the bytes. */
  text(): string {
    if (this.decoded === undefined) {
      this.decoded = this.buf.toString('utf8', 0, this.len);
      this.buf = Buffer.alloc(0);
    }
    return this.decoded;
  }
}

/**
 * A command cut short (E_CMD_TIMEOUT, E_DISCONNECTED, E_INTERRUPTED), carrying what it printed
 * until then. The transport builds the partial output from the same capped buffers as a result
 * and masks it with the same secrets: a caller never needs a raw copy of the stream of its own.
 */
export class CommandCutShort extends FleetmendError {
  readonly partial: PartialOutput;

  constructor(code: ErrorCode, message: string, partial: PartialOutput, opts: { host?: string; cause?: unknown } = {}) {
    super(code, message, opts);
    this.partial = partial;
  }
}

/** The output a command printed before `err` cut it short, if the transport kept any. */
export function partialOutputOf(err: unknown): PartialOutput | undefined {
  return err instanceof CommandCutShort ? err.partial : undefined;
}
