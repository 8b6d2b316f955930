/**
 * Output kept per command: stdout+stderr share one cap so a hostile or broken host sending tens of
 * MB cannot exhaust memory. The first byte over the cap ends the command (see Ssh2Transport.exec):
 * nothing past it is read into the runner, and the SSH window stops the sender.
 */
export class CappedOutput {
  private readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];
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
    // copy: ssh2 may reuse buffers, and a subarray would pin the whole chunk
    (which === 'stdout' ? this.out : this.err).push(Buffer.from(part));
    this.kept += part.length;
    return this.truncated;
  }

  /** UTF-8 with U+FFFD for invalid sequences: binary output never throws. */
  stdout(): string {
    return Buffer.concat(this.out).toString('utf8');
  }

  stderrHead(): string {
    return this.head.toString('utf8');
  }

  stderr(): string {
    return Buffer.concat(this.err).toString('utf8');
  }
}
