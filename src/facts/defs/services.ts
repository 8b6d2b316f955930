/**
 * systemd's services for `service_facts` (Ansible's modules/service_facts.py,
 * SystemctlScanService), read only when a task asks: `systemctl list-units` and
 * `list-unit-files` in one round trip (two programs, not the probe). Ansible runs one more
 * `systemctl show UNIT` per unit file that is not loaded; systemd reports every unit it has not
 * loaded as `inactive`, so that is what they get here (a template unit, `foo@.service`, which
 * `show` cannot load: `unknown`), without a program per unit.
 */
import type { Fact } from '../fact.js';
import { clip, eachLine, failed, ok, type Parsed } from '../text.js';

export interface ServiceEntry {
  name: string;
  state: string;
  status: string;
  source: 'systemd';
}

const BAD_STATES = ['not-found', 'masked', 'failed'];

const SERVICES = [
  "echo 'units:'",
  'systemctl list-units --no-pager --type service --all --plain 2>&1',
  'fm_u=$?',
  "echo 'unit-files:'",
  'systemctl list-unit-files --no-pager --type service --all 2>&1',
  'fm_rc=$?',
  'if [ "$fm_u" != 0 ]; then fm_rc=$fm_u; fi',
].join('\n');

export const MAX_SERVICES = 20_000;

function fromUnits(services: Record<string, ServiceEntry>, line: string): void {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 4 || !fields[0]!.includes('.service')) return;
  // systemd sometimes gives a misleading status: a bad state anywhere but the description wins
  const bad = BAD_STATES.find((b) => fields.slice(0, -1).includes(b));
  const name = clip(fields[0]!, 256);
  services[name] = { name, state: fields[3] === 'running' ? 'running' : 'stopped', status: bad ?? fields[2]!, source: 'systemd' };
}

function fromUnitFiles(services: Record<string, ServiceEntry>, line: string): void {
  const [name, status] = line.trim().split(/\s+/);
  if (!name || !status || !name.includes('.service')) return;
  const known = services[name];
  if (!known) {
    if (Object.keys(services).length < MAX_SERVICES) services[name] = { name, state: name.endsWith('@.service') ? 'unknown' : 'inactive', status, source: 'systemd' };
  } else if (!BAD_STATES.includes(known.status)) known.status = status;
}

export function parseServices(text: string, rc: number | null): Parsed<Record<string, ServiceEntry>> {
  const services: Record<string, ServiceEntry> = {};
  let part: 'units' | 'files' | undefined;
  for (const line of eachLine(text)) {
    if (line === 'units:') part = 'units';
    else if (line === 'unit-files:') part = 'files';
    else if (part === 'units' && Object.keys(services).length < MAX_SERVICES) fromUnits(services, line);
    else if (part === 'files') fromUnitFiles(services, line);
  }
  if (part === undefined) return failed(services, `service_facts: unexpected output: ${JSON.stringify(clip(text.trim().split('\n')[0] ?? '', 120))}`);
  if (rc !== 0) return failed(services, `systemctl failed (exit ${rc ?? 'none'}): ${clip(text.trim().split('\n')[1] ?? '', 120)}`);
  return ok(services);
}

export const ServicesFact: Fact<Record<string, ServiceEntry>> = { name: 'services', script: SERVICES, empty: {}, parse: parseServices };
