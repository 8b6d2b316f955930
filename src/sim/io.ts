/** Byte streams of the simulated shell: what commands read from and write to. */
export interface Output {
  /** Resolves when the chunk has been accepted (the SSH channel applies backpressure). */
  write(chunk: string | Buffer): Promise<void> | void;
}

export interface Input {
  /** Everything until end of input. */
  readAll(): Promise<string>;
  /** One line without its newline, or null at end of input. */
  readLine(): Promise<string | null>;
  /** Like readLine, also telling whether the line ended with a newline (the `read` builtin's status). */
  readRecord(): Promise<{ text: string; terminated: boolean } | null>;
}

export const nullOutput: Output = { write: () => undefined };

export class BufferOutput implements Output {
  private chunks: Buffer[] = [];
  private size = 0;
  write(chunk: string | Buffer): void {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.chunks.push(b);
    this.size += b.length;
  }
  get length(): number {
    return this.size;
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
  text(): string {
    return this.buffer().toString('utf8');
  }
}

export class StringInput implements Input {
  private pos = 0;
  constructor(private readonly data: string) {}
  async readAll(): Promise<string> {
    const rest = this.data.slice(this.pos);
    this.pos = this.data.length;
    return rest;
  }
  async readLine(): Promise<string | null> {
    return (await this.readRecord())?.text ?? null;
  }
  async readRecord(): Promise<{ text: string; terminated: boolean } | null> {
    if (this.pos >= this.data.length) return null;
    const nl = this.data.indexOf('\n', this.pos);
    const end = nl < 0 ? this.data.length : nl;
    const text = this.data.slice(this.pos, end);
    this.pos = nl < 0 ? this.data.length : nl + 1;
    return { text, terminated: nl >= 0 };
  }
}

export const emptyInput: Input = new StringInput('');

/** Input fed incrementally (an SSH channel's data events), ended by EOF or close. */
export class StreamInput implements Input {
  private buf = '';
  private ended = false;
  private waiters: (() => void)[] = [];

  push(chunk: string): void {
    this.buf += chunk;
    this.wake();
  }
  end(): void {
    this.ended = true;
    this.wake();
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  private wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  async readAll(): Promise<string> {
    while (!this.ended) await this.wait();
    const all = this.buf;
    this.buf = '';
    return all;
  }
  async readLine(): Promise<string | null> {
    return (await this.readRecord())?.text ?? null;
  }
  async readRecord(): Promise<{ text: string; terminated: boolean } | null> {
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const text = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return { text, terminated: true };
      }
      if (this.ended) {
        if (!this.buf) return null;
        const text = this.buf;
        this.buf = '';
        return { text, terminated: false };
      }
      await this.wait();
    }
  }
}
