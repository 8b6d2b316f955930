/**
 * Ed25519 signatures for distributed mode: Redis is a mailbox that anyone with write access can
 * fill, so nothing read from it is acted on or believed unless it carries a signature by a key
 * the reader trusts. What is signed is the exact string stored in Redis (`payload`), never a
 * re-serialisation of a parsed value: there is no canonical form to get wrong, and the verifier
 * parses only bytes it has already checked.
 *
 * Keys are node's own crypto (PKCS#8 / SPKI PEM). A key is named by its id: the first 16 hex
 * digits of the SHA-256 of its public key (SPKI DER), which the envelope carries so the reader
 * can pick the key; the id is only a hint, the signature decides.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { FleetmendError } from '../errors.js';
import { jobIdOf, playJobIdOf, signedJobSchema, signedResultSchema, type SignedJob, type SignedResult } from './queue.js';

/** What Redis holds for a signed job or result. */
export interface SignedEnvelope {
  /** The signed bytes: a JSON text, stored as is. */
  payload: string;
  /** Ed25519 signature of `payload` (UTF-8), base64. */
  sig: string;
  /** Key id of the signer (keyIdOf). */
  key: string;
}

export const envelopeSchema = z.object({ payload: z.string(), sig: z.string(), key: z.string() }).strict();

export interface SigningKey {
  id: string;
  key: KeyObject;
}

export interface TrustedKey {
  id: string;
  key: KeyObject;
  /** Where it came from (file name), for messages. */
  name: string;
}

/** Trusted public keys by id. */
export type TrustStore = ReadonlyMap<string, TrustedKey>;

/** Why a signed thing was refused; the message is the reason a log and a host result show. */
export class SignatureRefused extends Error {}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * `fleetmend keygen NAME`: NAME.key (PKCS#8 PEM, created 0600, never overwritten) and NAME.pub.
 * Both are refused up front if either exists, so a half-written pair never replaces a good one.
 */
export function writeKeyPair(name: string): { keyFile: string; pubFile: string; id: string } {
  const keyFile = `${name}.key`;
  const pubFile = `${name}.pub`;
  for (const f of [keyFile, pubFile]) if (existsSync(f)) throw new FleetmendError('E_USAGE', `keygen: ${f} exists; not overwriting a key (remove it first, or choose another name)`);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  // 'wx': created here or not at all (a file planted since the check is not written through)
  writeNew(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  writeNew(pubFile, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  return { keyFile, pubFile, id: keyIdOf(publicKey) };
}

function writeNew(file: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', mode);
  } catch (err) {
    throw new FleetmendError('E_USAGE', `keygen: cannot create ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

function readKeyText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new FleetmendError('E_KEYFILE', `${what} ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A private Ed25519 key; like OpenSSH, refused when group or others can read it. */
export function loadSigningKey(file: string, what = '--signing-key'): SigningKey {
  const text = readKeyText(file, what);
  const mode = statSync(file).mode & 0o077;
  if (mode) throw new FleetmendError('E_KEYFILE', `${what} ${file}: readable by group or others (mode ${(statSync(file).mode & 0o777).toString(8)}); chmod 600 it`);
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch (err) {
    throw new FleetmendError('E_KEYFILE', `${what} ${file}: not a private key (${err instanceof Error ? err.message : String(err)}); make one with fleetmend keygen`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new FleetmendError('E_KEYFILE', `${what} ${file}: an ${key.asymmetricKeyType ?? 'unknown'} key; fleetmend signs with Ed25519 (fleetmend keygen)`);
  return { id: keyIdOf(createPublicKey(key)), key };
}

function loadPublicKey(file: string, what: string): TrustedKey {
  const text = readKeyText(file, what);
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch (err) {
    throw new FleetmendError('E_KEYFILE', `${what} ${file}: not a public key (${err instanceof Error ? err.message : String(err)})`);
  }
  // createPublicKey also accepts a private key: a .key given where a .pub belongs is a mistake to say
  if (/PRIVATE KEY/.test(text)) throw new FleetmendError('E_KEYFILE', `${what} ${file}: a private key; give the .pub file`);
  if (key.asymmetricKeyType !== 'ed25519') throw new FleetmendError('E_KEYFILE', `${what} ${file}: an ${key.asymmetricKeyType ?? 'unknown'} key; fleetmend verifies Ed25519 (fleetmend keygen)`);
  return { id: keyIdOf(key), key, name: basename(file) };
}

/** Public keys from files, and from directories (every `*.pub` in them). At least one. */
export function loadTrustStore(paths: readonly string[], what: string): TrustStore {
  const keys = new Map<string, TrustedKey>();
  for (const p of paths) {
    let files = [p];
    try {
      if (statSync(p).isDirectory()) files = readdirSync(p).filter((f) => f.endsWith('.pub')).sort().map((f) => join(p, f));
    } catch {
      /* a missing path is reported by readKeyText */
    }
    if (!files.length) throw new FleetmendError('E_KEYFILE', `${what} ${p}: no *.pub file in this directory`);
    for (const f of files) {
      const k = loadPublicKey(f, what);
      keys.set(k.id, k);
    }
  }
  if (!keys.size) throw new FleetmendError('E_USAGE', `${what}: no public key given`);
  return keys;
}

/** Signs `value` as the JSON text that is stored. */
export function signJson(value: unknown, signer: SigningKey): SignedEnvelope {
  const payload = JSON.stringify(value);
  return { payload, sig: sign(null, Buffer.from(payload, 'utf8'), signer.key).toString('base64'), key: signer.id };
}

/**
 * The payload of an envelope signed by a trusted key, parsed and checked against `schema`;
 * anything else throws SignatureRefused naming why (unsigned, untrusted key, bad signature,
 * not what it claims to be).
 */
export function openSigned<T>(raw: unknown, trust: TrustStore, schema: z.ZodType<T>, what: string): { value: T; signer: TrustedKey } {
  const env = envelopeSchema.safeParse(raw);
  if (!env.success) throw new SignatureRefused(`${what} is not signed`);
  const signer = trust.get(env.data.key);
  if (!signer) throw new SignatureRefused(`${what} is signed by an untrusted key ${env.data.key.slice(0, 16).replace(/[^0-9a-f]/g, '?')}`);
  let ok = false;
  try {
    ok = verify(null, Buffer.from(env.data.payload, 'utf8'), signer.key, Buffer.from(env.data.sig, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) throw new SignatureRefused(`${what}: bad signature for key ${signer.id} (${signer.name}): altered after signing`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(env.data.payload);
  } catch {
    throw new SignatureRefused(`${what}: signed payload is not JSON`);
  }
  const checked = schema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new SignatureRefused(`${what}: signed payload does not match its schema (${issue?.path.join('.') || 'payload'}: ${issue?.message ?? 'invalid'})`);
  }
  return { value: checked.data, signer };
}

/**
 * A job's signed content, if a trusted coordinator signed it for exactly this job id, its run
 * and host, and it has not expired; else SignatureRefused with the reason. The caller acts on
 * what this returns, never on the job's raw data.
 */
export function openJob(raw: unknown, jobId: string, trust: TrustStore, now: number): { job: SignedJob; signer: TrustedKey } {
  const shown = jobId.slice(0, 200);
  const { value, signer } = openSigned(raw, trust, signedJobSchema, `job ${shown}`);
  const { job } = value;
  const ownId = job.kind === 'play' ? playJobIdOf(value.run, job.playIndex, job.batchIndex, job.host) : jobIdOf(value.run, job.host);
  if (value.jobId !== jobId || ownId !== jobId) throw new SignatureRefused(`job ${shown}: signed for job ${value.jobId} (run ${value.run}, host ${job.host}); replayed under another id or run`);
  if (job.run !== value.run) throw new SignatureRefused(`job ${shown}: names run ${job.run} inside a job of run ${value.run}`);
  if (job.kind === 'play' && !value.runDigest) throw new SignatureRefused(`job ${shown}: a play job without the digest of its run's playbook`);
  if (now > value.expiresAt) throw new SignatureRefused(`job ${shown}: expired at ${new Date(value.expiresAt).toISOString()}`);
  return { job: value, signer };
}

/**
 * A worker's result, if a trusted worker signed it for the job id, run and host the coordinator
 * queued, with a host result for that same host; else SignatureRefused with the reason.
 */
export function openResult(raw: unknown, want: { jobId: string; run: string; host: string }, trust: TrustStore): { result: SignedResult; signer: TrustedKey } {
  let parsed = raw;
  if (typeof raw === 'string') {
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new SignatureRefused('the result is not JSON');
    }
  }
  const { value, signer } = openSigned(parsed, trust, signedResultSchema, 'the result');
  if (value.jobId !== want.jobId || value.run !== want.run) throw new SignatureRefused(`the result was signed for job ${value.jobId} (run ${value.run}), not this one`);
  if (value.host !== want.host || value.result.host !== want.host) throw new SignatureRefused(`the result names host ${value.result.host === value.host ? value.host : `${value.host}/${value.result.host}`}, not ${want.host}`);
  return { result: value, signer };
}

/** The coordinator's keys (`sweep/run --redis`): both required, read before anything is contacted. */
export function coordinatorKeys(signingKey: string | undefined, trustWorkers: readonly string[]): { signer: SigningKey; trustWorkers: TrustStore } {
  if (!signingKey) throw new FleetmendError('E_USAGE', '--redis needs --signing-key FILE: every job is signed (make a key pair with `fleetmend keygen NAME`; workers --trust NAME.pub)');
  if (!trustWorkers.length) throw new FleetmendError('E_USAGE', '--redis needs --trust-workers FILE|DIR: the worker public keys whose results are believed (each worker: `fleetmend keygen NAME`, its NAME.pub here)');
  return { signer: loadSigningKey(signingKey), trustWorkers: loadTrustStore(trustWorkers, '--trust-workers') };
}

/** The worker's keys (`worker`): both required, read before Redis is contacted. */
export function workerKeys(signingKey: string | undefined, trust: readonly string[]): { signer: SigningKey; trust: TrustStore } {
  if (!trust.length) throw new FleetmendError('E_USAGE', 'worker needs --trust FILE (repeatable): the coordinator public key(s) whose jobs it runs; there is no unsigned mode');
  if (!signingKey) throw new FleetmendError('E_USAGE', 'worker needs --signing-key FILE: its results are signed (make a key pair with `fleetmend keygen NAME`; the coordinator --trust-workers NAME.pub)');
  return { signer: loadSigningKey(signingKey), trust: loadTrustStore(trust, '--trust') };
}
