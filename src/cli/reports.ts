import type { Command } from 'commander';
import { FleetmendError } from '../errors.js';
import { FORMATS, type ReportFormat } from '../report/formats.js';
import { optionWithDefault } from './options.js';

export type { ReportOptions } from '../run/index.js';
export { prepareRenderer, historyFor } from '../run/index.js';

export const DEFAULT_FORMATS: ReportFormat[] = ['md', 'html', 'json'];

export function parseFormats(v: string): ReportFormat[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const f of list) {
    if (!(FORMATS as readonly string[]).includes(f)) {
      throw new FleetmendError('E_USAGE', `unknown report format '${f}' (choose from ${FORMATS.join(', ')})`);
    }
  }
  return list as ReportFormat[];
}

export function addReportOptions(cmd: Command): Command {
  return cmd
    .option('-o, --output <dir>', 'write reports to DIR/<run-id>/')
    .addOption(optionWithDefault('--format <list>', `report formats: ${FORMATS.join(',')}`, DEFAULT_FORMATS, parseFormats))
    .option('--per-host', 'also write one report file per host')
    .option('--template-dir <dir>', 'override templates or partials by file name');
}

