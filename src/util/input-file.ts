/**
 * Reading a file the user named (inventory, playbook, ssh config, key): one that cannot be read
 * is a FleetmendError with the caller's code, naming the file and the reason (ENOENT, EACCES, a
 * directory in words), instead of a bare Node error without the path.
 */
import { readFile } from 'node:fs/promises';
import { FleetmendError, type ErrorCode } from '../errors.js';

export interface InputFileError {
  code: ErrorCode;
  /** What the file is to the user ("inventory", "ssh config"); empty for a plain "cannot read PATH". */
  what: string;
  /** Said after "is a directory" (e.g. which file to give instead). */
  directoryHint?: string;
  /** Errors about a host's file (its key) name the host; the others name the file as their position. */
  host?: string;
}

export async function readInputFile(path: string, as: InputFileError): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EISDIR' ? `is a directory${as.directoryHint ? `; ${as.directoryHint}` : ''}` : (e.code ?? e.message);
    const where = as.host !== undefined ? { host: as.host } : { position: { file: path } };
    throw new FleetmendError(as.code, `cannot read ${as.what ? `${as.what} ` : ''}${path}: ${why}`, { ...where, cause: err });
  }
}

/** readInputFile as UTF-8 text. */
export async function readInputText(path: string, as: InputFileError): Promise<string> {
  return (await readInputFile(path, as)).toString('utf8');
}
