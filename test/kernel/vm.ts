/**
 * The real kernel of the comparison tests: a Debian 12 (kernel 6.1, auditd 3.0.9) image built
 * once by vm/build.sh into a state dir, booted under qemu TCG (no KVM needed) with its own
 * kernel and initrd, SSH forwarded to a loopback port. Each boot runs on a throw-away qcow2
 * overlay, so every run starts from the pristine image.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * $FM_KERNEL_STATE as given, else one cache dir per version of build.sh (a hash of its text),
 * so an image built by an older script is never booted for a newer one.
 */
export function stateDir(): string {
  if (process.env.FM_KERNEL_STATE) return process.env.FM_KERNEL_STATE;
  const version = createHash('sha256').update(readFileSync(join(import.meta.dirname, 'vm', 'build.sh'))).digest('hex').slice(0, 12);
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'fleetmend-kernel', version);
}

/** Builds the image unless the state dir already holds a finished one (minutes the first time). */
export async function ensureImage(dir = stateDir()): Promise<void> {
  if (existsSync(join(dir, 'ready'))) return;
  await run('sh', [join(import.meta.dirname, 'vm', 'build.sh'), dir], { maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000 });
  // The phases' elapsed seconds: what an uncached CI run spends before the first test.
  console.log(readFileSync(join(dir, 'build-times.txt'), 'utf8'));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export interface Vm {
  port: number;
  keyPath: string;
  knownHostsPath: string;
  consolePath: string;
  pid: number;
  /** From qemu's start to sshd's first host key. */
  bootMs: number;
  console(): string;
  stop(): Promise<void>;
}

/** qemu ended before the VM answered SSH (not a slow boot). */
class QemuExited extends Error {}

type BootOptions = { memMb?: number; bootTimeoutMs?: number };

/**
 * Boots the image; resolves once sshd answers with a host key (known_hosts written). With
 * /dev/kvm it tries KVM first; if qemu dies at once under KVM (seen on a nested host: "failed to
 * set MSR 0x10a", qemu aborts 2 s after starting) it boots again under TCG, which is slower but
 * runs the same kernel.
 */
export async function bootVm(workDir: string, opts: BootOptions = {}): Promise<Vm> {
  if (!existsSync('/dev/kvm')) return bootVmWith(workDir, opts, 'tcg');
  try {
    // KVM boots this image to sshd in seconds; a nested host may also leave the guest hung with
    // nothing on its console (seen here 2026-12-06: no SSH in 240 s, empty console), so KVM gets
    // KVM_BOOT_MS and then the same boot goes to TCG
    return await bootVmWith(workDir, { ...opts, bootTimeoutMs: Math.min(opts.bootTimeoutMs ?? 240_000, KVM_BOOT_MS) }, 'kvm');
  } catch (err) {
    if (!(err instanceof QemuExited) && !(err instanceof BootTimeout)) throw err;
    console.log(`KVM unusable here (${err.message.split('\n')[0]}); booting under TCG`);
    return bootVmWith(workDir, opts, 'tcg');
  }
}

/** How long a KVM boot may take before it is taken for hung (a healthy one answers in ~10 s). */
const KVM_BOOT_MS = 60_000;

class BootTimeout extends Error {}

async function bootVmWith(workDir: string, opts: BootOptions, accel: 'kvm' | 'tcg'): Promise<Vm> {
  const dir = stateDir();
  mkdirSync(workDir, { recursive: true });
  const overlay = join(workDir, 'overlay.qcow2');
  rmSync(overlay, { force: true });
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', join(dir, 'disk.img'), '-F', 'raw', overlay]);
  const port = await freePort();
  const t0 = Date.now();
  const consolePath = join(workDir, 'console.log');
  const child: ChildProcess = spawn(
    'qemu-system-x86_64',
    [
      '-machine', `q35,accel=${accel}`, '-cpu', accel === 'kvm' ? 'host' : 'max', '-smp', '1', '-m', String(opts.memMb ?? 1024),
      '-kernel', join(dir, 'vmlinuz'), '-initrd', join(dir, 'initrd.img'),
      // Debian's defaults: no audit= and no panic= on the command line (kernel.panic = 0).
      '-append', 'root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet',
      '-drive', `file=${overlay},if=virtio,format=qcow2,cache=unsafe`,
      '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`, '-device', 'virtio-net-pci,netdev=n0',
      '-serial', `file:${consolePath}`, '-display', 'none', '-monitor', 'none', '-no-reboot',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid ?? 0;
  const vm: Vm = {
    port,
    keyPath: join(dir, 'id_ed25519'),
    knownHostsPath: join(workDir, 'known_hosts'),
    consolePath,
    pid,
    bootMs: 0,
    console: () => (existsSync(consolePath) ? readFileSync(consolePath, 'utf8') : ''),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      process.kill(pid, 'SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    },
  };
  const deadline = Date.now() + (opts.bootTimeoutMs ?? 240_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new QemuExited(`qemu (${accel}) exited (${child.exitCode ?? child.signalCode}) ${Math.round((Date.now() - t0) / 1000)} s after it started: ${stderr.slice(-500)}; console tail:\n${vm.console().slice(-2000)}`);
    }
    try {
      const { stdout } = await run('ssh-keyscan', ['-T', '5', '-t', 'ed25519', '-p', String(port), '127.0.0.1'], { timeout: 15_000 });
      if (stdout.includes('ssh-ed25519')) {
        writeFileSync(vm.knownHostsPath, stdout);
        vm.bootMs = Date.now() - t0;
        console.log(`VM answered SSH ${vm.bootMs} ms after qemu started`);
        return vm;
      }
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  await vm.stop();
  throw new BootTimeout(`the VM (${accel}) did not answer SSH within ${opts.bootTimeoutMs ?? 240_000} ms; console tail:\n${vm.console().slice(-2000)}`);
}
