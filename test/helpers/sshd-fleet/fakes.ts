/**
 * The scripts that stand in for a host's audit tooling on the real-sshd test fleet.
 *
 * They are installed in `<fleet>/bin`, which sshd puts first on PATH (`SetEnv PATH=...`) and
 * sudo keeps first (`secure_path` for the test user). Each invocation tells which fleet host
 * it is by the destination address of the SSH connection (`$SSH_CONNECTION`, third field; sudo
 * keeps it through `env_keep`), and reads that host's state from `<fleet>/hosts/<address>/`.
 * Nothing here touches the real kernel's audit settings.
 *
 * Every other tool is the machine's own: each host's sshd runs in a mount namespace where the
 * host's fake root is mounted at the real paths (mountns.ts), so `cat /etc/audit/auditd.conf`
 * or the fact script's `read < /proc/meminfo` need no wrapper and no rewriting. The fakes are
 * what a real host has as programs (auditctl, systemctl, dmesg...), one program each, so every
 * tool that runs them pays the same.
 */

/**
 * Prints a file with shell builtins (POSIX sh and bash): a real dmesg or auditctl is one
 * program, so the fake must not start a second one (`cat`) to play it.
 */
function catBuiltin(file: string): string {
  return `while IFS= read -r fm_l || [ -n "$fm_l" ]; do printf '%s\\n' "$fm_l"; done < ${file}`;
}

/** Sets FM_ADDR/FM_HOST/FM_ROOT or exits; POSIX sh, inlined into every script. */
function hostPrelude(fleetDir: string): string {
  return `FM_FLEET='${fleetDir}'
fm_addr() { FM_ADDR=$3; }
fm_addr $SSH_CONNECTION
if [ -z "$FM_ADDR" ]; then
  echo "fleetmend sshd-fleet fake \${0##*/}: SSH_CONNECTION is unset, cannot tell which host this is" >&2
  exit 127
fi
FM_HOST="$FM_FLEET/hosts/$FM_ADDR"
FM_ROOT="$FM_HOST/root"
if [ ! -d "$FM_HOST" ]; then
  echo "fleetmend sshd-fleet fake \${0##*/}: no fake state for address $FM_ADDR" >&2
  exit 127
fi
`;
}

/** auditctl in bash: it needs $EUID, option loops and arithmetic. */
export function auditctlScript(fleetDir: string): string {
  return `#!/bin/bash
# fleetmend test fleet: auditctl playing this host's state file.
${hostPrelude(fleetDir)}
. "$FM_HOST/state"
fm_save() {
  local t="$FM_HOST/.state.$$"
  printf 'enabled=%s\\nfailure=%s\\npid=%s\\nrate_limit=%s\\nbacklog_limit=%s\\nlost=%s\\nbacklog=%s\\nbacklog_wait_time=%s\\nbacklog_wait_time_actual=%s\\nauditctl_needs_root=%s\\nauditd_active=%s\\nauditd_pid=%s\\nrefuse_manual_stop=%s\\nstatus_spew_bytes=%s\\n' \\
    "$enabled" "$failure" "$pid" "$rate_limit" "$backlog_limit" "$lost" "$backlog" "$backlog_wait_time" \\
    "$backlog_wait_time_actual" "$auditctl_needs_root" "$auditd_active" "$auditd_pid" "$refuse_manual_stop" "\${status_spew_bytes:-0}" >"$t" \\
    && /usr/bin/mv -f "$t" "$FM_HOST/state"
}
# A host spewing N bytes into auditctl -s (output-cap benchmark): blocks of the simulator's
# huge-output line (an audit record, 105 bytes) by builtin printf, no second program (head | tr
# would be two); 60 MB cost bash ~0.8 s CPU.
fm_spew() {
  local b='audit: type=1300 audit(1795536299.644:457): arch=c000003e syscall=257 success=yes exit=3 comm="noise"'$'\\n' i n r
  for i in 1 2 3 4 5 6 7 8 9; do b=$b$b; done
  n=$(( $1 / \${#b} )) r=$(( $1 % \${#b} ))
  for (( i = 0; i < n; i++ )); do printf '%s' "$b"; done
  printf '%s' "\${b:0:r}"
}
fm_status() {
  if (( \${status_spew_bytes:-0} > 0 )); then fm_spew "$status_spew_bytes"; return; fi
  if [[ -f $FM_HOST/status.txt ]]; then ${catBuiltin('"$FM_HOST/status.txt"')}; return; fi
  printf 'enabled %s\\nfailure %s\\npid %s\\nrate_limit %s\\nbacklog_limit %s\\nlost %s\\nbacklog %s\\nbacklog_wait_time %s\\nbacklog_wait_time_actual %s\\nloginuid_immutable 0 unlocked\\n' \\
    "$enabled" "$failure" "$pid" "$rate_limit" "$backlog_limit" "$lost" "$backlog" "$backlog_wait_time" "$backlog_wait_time_actual"
}
fm_set() { # what, value, pattern
  if (( EUID != 0 )); then echo "Error sending $1 request (Operation not permitted)" >&2; exit 1; fi
  if [[ $enabled == 2 ]]; then echo "The audit system is in immutable mode, no rule changes allowed" >&2; exit 1; fi
  if [[ ! $2 =~ $3 ]]; then echo "$1 must be a valid value, was $2" >&2; exit 1; fi
  changed=1
}
# auditctl itself refuses to run unless root (auditctl.c: "You must be root to run this program.", rc 4).
if [[ $auditctl_needs_root == 1 ]] && (( EUID != 0 )); then echo "You must be root to run this program." >&2; exit 4; fi
if (( $# == 0 )); then echo "usage: auditctl [options]" >&2; exit 1; fi
changed=0
while (( $# )); do
  case $1 in
    -s) fm_status; shift;;
    -l) if [[ -s $FM_HOST/rules ]]; then ${catBuiltin('"$FM_HOST/rules"')}; else echo "No rules"; fi; shift;;
    -b) fm_set backlog_limit "$2" '^[0-9]+$'; backlog_limit=$2; shift 2;;
    -f) fm_set failure "$2" '^[012]$'; failure=$2; shift 2;;
    -e) fm_set enable "$2" '^[012]$'; enabled=$2; shift 2;;
    -r) fm_set rate_limit "$2" '^[0-9]+$'; rate_limit=$2; shift 2;;
    --backlog_wait_time) fm_set backlog_wait_time "$2" '^[0-9]+$'; backlog_wait_time=$2; shift 2;;
    --reset-lost|--reset_lost) fm_set reset_lost 0 '^0$'; echo "lost: $lost"; lost=0; shift;;
    -D) fm_set delete 0 '^0$'; : >"$FM_HOST/rules"; shift;;
    -a|-A|-w|-W) fm_set rule 0 '^0$'; echo "$*" >>"$FM_HOST/rules"; shift $#;;
    -R) fm_set load 0 '^0$'; f=$2; [[ $f == /etc/audit* ]] && f="$FM_ROOT$f"
        if [[ ! -r $f ]]; then echo "Error opening $2 (No such file or directory)" >&2; exit 1; fi
        fm_save; changed=0
        while read -r line; do
          line=\${line%%#*}; [[ -z \${line// /} ]] && continue
          # shellcheck disable=SC2086
          "$0" $line >/dev/null || exit 1
        done <"$f"
        . "$FM_HOST/state"; shift 2;;
    -h|--help) echo "usage: auditctl [options]"; exit 0;;
    *) echo "Unknown option: $1" >&2; exit 1;;
  esac
done
if (( changed )); then fm_save; fm_status; fi
exit 0
`;
}

export function augenrulesScript(fleetDir: string): string {
  return `#!/bin/bash
# fleetmend test fleet: augenrules over the host's fake /etc/audit.
${hostPrelude(fleetDir)}
if (( EUID != 0 )); then echo "augenrules: must be root" >&2; exit 1; fi
shopt -s nullglob
# As audit-userspace's augenrules: files in version order (digits before letters, so a stock
# audit.rules comes after 90-*.rules), comments dropped, the first -D first, the last -e last;
# every other line (-b too) kept in order, so a later file's -b wins.
files=$(cd "$FM_ROOT/etc/audit/rules.d" && /usr/bin/ls -1v | /usr/bin/grep '\.rules$')
new=$( echo "## This file is automatically generated from /etc/audit/rules.d"
  for f in $files; do /usr/bin/cat "$FM_ROOT/etc/audit/rules.d/$f"; echo; done | /usr/bin/awk '
    /^[ \t]*$/ || /^[ \t]*#/ { next }
    /^[ \t]*-e/ { e = $0; next }
    /^[ \t]*-D/ { if (d == "") d = $0; next }
    { rules[n++] = $0 }
    END { if (d != "") print d; for (i = 0; i < n; i++) print rules[i]; if (e != "") print e }' )
old=$(/usr/bin/cat "$FM_ROOT/etc/audit/audit.rules" 2>/dev/null)
case $1 in
  --check) if [[ $new == "$old" ]]; then echo "/usr/sbin/augenrules: No change"; else echo "/usr/sbin/augenrules: Rules have changed and should be updated"; fi;;
  --load) printf '%s\\n' "$new" >"$FM_ROOT/etc/audit/audit.rules"; exec auditctl -R /etc/audit/audit.rules;;
  *) echo "usage: augenrules [--check|--load]" >&2; exit 1;;
esac
`;
}

/** systemctl / service for the auditd unit (RefuseManualStop as on real systems). */
export function systemctlScript(fleetDir: string): string {
  return `#!/bin/bash
# fleetmend test fleet: systemctl/service for auditd.
${hostPrelude(fleetDir)}
. "$FM_HOST/state"
me=\${0##*/}
if [[ $me == service ]]; then unit=$1; verb=$2; else verb=$1; shift; unit=\${1:-}; fi
unit=\${unit%.service}
props=()
for ((i = 1; i <= $#; i++)); do
  if [[ \${!i} == -p ]]; then j=$((i + 1)); IFS=, read -ra more <<<"\${!j}"; props+=("\${more[@]}"); fi
  if [[ \${!i} == --property=* ]]; then IFS=, read -ra more <<<"\${!i#--property=}"; props+=("\${more[@]}"); fi
done
# The host's fake /proc shows auditd as the fact script reads it (comm, stat, wchan).
fm_proc() {
  local d c
  for d in "$FM_ROOT"/proc/[0-9]*; do
    [[ -f $d/comm ]] || continue
    c=$(<"$d/comm"); [[ $c == auditd ]] && /usr/bin/rm -rf -- "$d"
  done
  if (( auditd_active )); then
    /usr/bin/mkdir -p "$FM_ROOT/proc/$auditd_pid"
    printf 'auditd\n' >"$FM_ROOT/proc/$auditd_pid/comm"
    printf '%s (auditd) S 1 %s %s 0 -1 4194624 0 0 0 0 0 0 0 0 16 -4 2 0 357\n' "$auditd_pid" "$auditd_pid" "$auditd_pid" >"$FM_ROOT/proc/$auditd_pid/stat"
    printf 'do_epoll_wait' >"$FM_ROOT/proc/$auditd_pid/wchan"
  fi
}
fm_restart() {
  if (( EUID != 0 )); then echo "Failed to $verb auditd.service: Access denied" >&2; exit 4; fi
  auditd_active=1; auditd_pid=$((auditd_pid + 1))
  sed -i "s/^auditd_active=.*/auditd_active=1/; s/^auditd_pid=.*/auditd_pid=$auditd_pid/" "$FM_HOST/state"
  fm_proc
  # auditd.service runs augenrules --load on start (ExecStartPost).
  augenrules --load >/dev/null
}
if [[ $unit != auditd ]]; then
  case $verb in
    show) echo "ActiveState=inactive"; echo "SubState=dead"; echo "MainPID=0"; echo "LoadState=not-found";;
    is-active) echo inactive; exit 3;;
    *) echo "Unit $unit.service could not be found." >&2; exit 5;;
  esac
  exit 0
fi
if (( auditd_active )); then active=active; sub=running; mpid=$auditd_pid; else active=inactive; sub=dead; mpid=0; fi
if (( refuse_manual_stop )); then refuse=yes; else refuse=no; fi
case $verb in
  show)
    (( \${#props[@]} )) || props=(ActiveState SubState MainPID RefuseManualStop)
    for p in "\${props[@]}"; do
      case $p in
        ActiveState) echo "ActiveState=$active";; SubState) echo "SubState=$sub";;
        MainPID) echo "MainPID=$mpid";; RefuseManualStop) echo "RefuseManualStop=$refuse";;
        *) echo "$p=";;
      esac
    done;;
  is-active) echo $active; (( auditd_active )) || exit 3;;
  status) echo "* auditd.service - Security Auditing Service"; echo "     Active: $active ($sub)"; (( auditd_active )) || exit 3;;
  start) fm_restart;;
  reload|rotate|condrestart|try-restart) fm_restart;;
  restart|stop)
    if [[ $me == systemctl ]] && (( refuse_manual_stop )); then
      echo "Failed to $verb auditd.service: Operation refused, unit auditd.service may be requested by dependency only (it is configured to refuse manual start/stop)." >&2
      echo "See system logs and 'systemctl status auditd.service' for details." >&2
      exit 1
    fi
    if [[ $verb == stop ]]; then sed -i "s/^auditd_active=.*/auditd_active=0/" "$FM_HOST/state"; auditd_active=0; fm_proc; else fm_restart; fi;;
  *) echo "Unknown command verb $verb." >&2; exit 1;;
esac
`;
}

export function psScript(fleetDir: string): string {
  return `#!/bin/sh
# fleetmend test fleet: ps answering "-C auditd" from the host's state, the real ps otherwise.
fm_c=
for a; do [ "$fm_prev" = -C ] && fm_c=$a; fm_prev=$a; done
[ "$fm_c" = auditd ] || exec /usr/bin/ps "$@"
${hostPrelude(fleetDir)}
. "$FM_HOST/state"
[ "$auditd_active" = 1 ] || exit 1
case "$*" in
  *stat=*) printf '%7d Ss\\n' "$auditd_pid";;
  *) printf '%7d\\n' "$auditd_pid";;
esac
`;
}

export function dmesgScript(fleetDir: string): string {
  return `#!/bin/sh
# fleetmend test fleet: the host's kernel ring buffer.
${hostPrelude(fleetDir)}
# a host whose kernel-log reader never returns (state klog_hang=1)
[ -e "$FM_HOST/klog-hang" ] && exec /usr/bin/sleep 3600
${catBuiltin('"$FM_HOST/dmesg.txt"')}
`;
}

export function journalctlScript(fleetDir: string): string {
  return `#!/bin/sh
# fleetmend test fleet: journalctl -k (or the _TRANSPORT=kernel match) from the host's kernel log; other journals are empty.
${hostPrelude(fleetDir)}
fm_k=; fm_mono=
for a; do
  case $a in -k|--dmesg|_TRANSPORT=kernel) fm_k=1;; short-monotonic|--output=short-monotonic) fm_mono=1;; esac
done
[ -n "$fm_k" ] || exit 0
[ -e "$FM_HOST/klog-hang" ] && exec /usr/bin/sleep 3600
if [ -n "$fm_mono" ]; then ${catBuiltin('"$FM_HOST/journal-mono.txt"')}; exit 0; fi
${catBuiltin('"$FM_HOST/journal.txt"')}
`;
}
