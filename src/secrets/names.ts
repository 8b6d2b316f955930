/**
 * The one rule that says which variable and key names hold secrets. It decides what the store,
 * the reports, `--json` and the queue drop or mask, what `fleetmend inventory` shows as
 * `********`, and which values the playbook runner masks out of task output.
 *
 * Matched case-insensitively on the whole name:
 * - anywhere in the name: `password`, `passwd`, `passphrase`, `secret`, `token`, `credential`
 *   (`db_password`, `vault_token`, `aws_credentials`, `client_secret_id`);
 * - as the last `_` word: `pw`, `pwd`, `pass` (`session_pw`, `db_pwd`, `ansible_ssh_pass`,
 *   `ansible_become_pass`); not inside a word: `passed` (a control's result), `pass_count`,
 *   `bypass` are not secrets;
 * - a key, as the last word after a word that makes it key material: `private_key`,
 *   `api_key`, `access_key`, `ssh_key`, `signing_key`, `encryption_key`, `secret_key`,
 *   `client_key`, `master_key`, `session_key`, `auth_key`, `tls_key`, `gpg_key`, `psk` (also
 *   `apikey`, `privatekeys`). A bare `key` or `*_key` with another qualifier is not:
 *   `backlog_key`, `sort_key`, `cache_key`, auditctl's rule `key`, `public_key` and `host_key`
 *   (public by design). A path to a key (`ansible_ssh_private_key_file`) is not a secret either:
 *   the file's content is, and fleetmend never reads it into a var.
 */
const ANYWHERE = /passw(?:or)?d|passphrase|secret|token|credential/i;
const LAST_WORD = /(?:^|_)(?:pw|pwd|pass)$/i;
const KEY_MATERIAL = /(?:^|_)(?:(?:private|api|access|ssh|signing|encryption|secret|client|master|session|auth|tls|gpg)_?keys?|psk)$/i;

/**
 * Answers by name, remembered: redaction asks for every key of every result (a sweep of 300
 * hosts: ~100,000 asks over a few hundred distinct names). Bounded: past MEMO_MAX names (keys
 * a host invented), it starts over.
 */
const memo = new Map<string, boolean>();
const MEMO_MAX = 4096;

export function isSecretName(name: string): boolean {
  let v = memo.get(name);
  if (v === undefined) {
    v = ANYWHERE.test(name) || LAST_WORD.test(name) || KEY_MATERIAL.test(name);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(name, v);
  }
  return v;
}
