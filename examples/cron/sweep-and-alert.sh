#!/bin/sh
# Run one sweep and report its exit code to syslog with a priority an alerting rule can match
# (examples/README.md, "Exit codes for alerting"). Usage: sweep-and-alert.sh INVENTORY
set -u
inventory=${1:?usage: sweep-and-alert.sh INVENTORY}
state=${FLEETMEND_STATE_DIR:-/var/lib/fleetmend}
node=${NODE:-/usr/bin/node}
fleetmend=${FLEETMEND:-/opt/fleetmend/dist/bin/main.js}

"$node" "$fleetmend" sweep -i "$inventory" \
  --known-hosts /etc/fleetmend/known_hosts --private-key /etc/fleetmend/id_ed25519 \
  --state-dir "$state" \
  -o "$state/reports" --format md,html,json,junit \
  --quiet --since-last \
  >>"$state/sweep.log" 2>&1
code=$?

case $code in
  0)   prio=info;    what='all hosts ok and compliant' ;;
  1)   prio=err;     what='bad input: nothing was swept' ;;
  2)   prio=warning; what='a host failed or is non-compliant' ;;
  4)   prio=warning; what='a host is unreachable' ;;
  6)   prio=warning; what='hosts failed or non-compliant, and hosts unreachable' ;;
  75)  prio=warning; what='inventory locked by another sweep, run or scheduler: nothing was swept' ;;
  130) prio=notice;  what='interrupted (SIGINT/SIGTERM); the partial run is recorded' ;;
  *)   prio=err;     what='unexpected exit code' ;;
esac
logger -t fleetmend -p "user.$prio" "sweep of $inventory: exit $code: $what (reports: $state/reports)"
exit "$code"
