/** Bastion (ProxyJump) connections shared by the targets dialled through them. */
import type { Ssh2Transport, BastionLease, BastionProvider } from './ssh2.js';
import type { ConnectionSpec } from './types.js';

function specKey(spec: ConnectionSpec): string {
  const own = `${spec.user}@${spec.address}:${spec.port}`;
  return spec.jump ? `${specKey(spec.jump)}>${own}` : own;
}

/** One connection per bastion, shared by the targets dialled through it; closed by the last user. */
export class BastionPool implements BastionProvider {
  private readonly entries = new Map<string, { transport: Ssh2Transport; refs: number }>();

  constructor(
    private readonly make: (spec: ConnectionSpec) => Ssh2Transport,
    /** Called once a bastion is up (the pool drops its login credentials there). */
    private readonly afterConnect?: (t: Ssh2Transport) => void,
  ) {}

  async acquire(spec: ConnectionSpec): Promise<BastionLease> {
    const key = specKey(spec);
    let entry = this.entries.get(key);
    if (entry && entry.refs > 0 && entry.transport.alive === false && entry.transport.connectedAddress !== undefined) {
      // the shared bastion connection died: start a fresh one for newcomers
      this.entries.delete(key);
      entry = undefined;
    }
    if (!entry) {
      entry = { transport: this.make(spec), refs: 0 };
      this.entries.set(key, entry);
    }
    entry.refs++;
    const current = entry;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      current.refs--;
      if (current.refs === 0) {
        if (this.entries.get(key) === current) this.entries.delete(key);
        await current.transport.close();
      }
    };
    try {
      await current.transport.connect();
      this.afterConnect?.(current.transport);
    } catch (e) {
      await release();
      throw e;
    }
    return { transport: current.transport, release };
  }

  /** Number of live bastion connections (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }
}
