import { CommandRegistry } from '../shell.js';
import { registerAudit } from './audit.js';
import { registerCore } from './core.js';
import { registerGrub } from './grub.js';
import { registerFiles } from './files.js';
import { registerPackages } from './packages.js';
import { installProcFiles, registerSystem } from './system.js';

export { statusText } from './audit.js';

/** The commands every simulated machine has (auditctl/augenrules only where installed). */
export function defaultRegistry(): CommandRegistry {
  const r = new CommandRegistry();
  registerCore(r);
  registerAudit(r);
  registerSystem(r);
  registerGrub(r);
  registerFiles(r);
  registerPackages(r);
  r.onMachine(installProcFiles);
  return r;
}
