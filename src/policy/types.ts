export interface Control {
  id: string;
  title: string;
  /** 0.0 – 1.0, as in InSpec. */
  impact: number;
  /** Source text of the condition (safe expression form, src/expr). */
  condition: string;
  description?: string;
}

/** A policy parameter: what a site chooses (CIS or STIG vs a distribution's default), read as `params.NAME`. */
export type ParameterValue = string | number | boolean | (string | number)[];

export interface Policy {
  name: string;
  file: string;
  controls: Control[];
  /** `parameters:` of the file; conditions read them as `params.NAME`. */
  parameters?: Record<string, ParameterValue>;
}

export interface ControlResult {
  id: string;
  title: string;
  impact: number;
  passed: boolean;
  /** Why it failed (or could not be evaluated). */
  message?: string;
}

export interface Compliance {
  compliant: boolean;
  failed_controls: ControlResult[];
  controls: ControlResult[];
  /** Impact-weighted share of passed controls, 0..1 (added). */
  score?: number;
}
