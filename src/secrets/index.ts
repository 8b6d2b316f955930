/**
 * Secrets, in one place: which names hold secrets (names.ts), the mask, masking known values out
 * of text (values.ts), dropping secret-named keys (redact.ts), the taint a derived value keeps
 * (taint.ts), and what may leave for Redis (wire.ts). Nothing here knows SSH, playbooks or the
 * store; they all come here.
 */
export { isSecretName } from './names.js';
export { SECRET_MASK, MIN_SECRET_LENGTH, SecretValues, secretVarValues, connectionSecrets, maskerFor, type SecretHolder } from './values.js';
export { redact, maskSecretVars } from './redact.js';
export { TaintWatch, taint, type TemplateRead, type TaintedState, type MaskableResult } from './taint.js';
export { wireState, wireValue } from './wire.js';
