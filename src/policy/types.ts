export interface Control {
  id: string;
  title: string;
  /** 0.0 – 1.0, as in InSpec. */
  impact: number;
  /** Source text of the condition (safe expression form, src/expr). */
  condition: string;
  description?: string;
}

export interface Policy {
  name: string;
  file: string;
  controls: Control[];
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
