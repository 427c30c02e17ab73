#!/bin/sh
# make run: start a standalone node for the shipped sample city on
# loopback with its LMDB under ./var, feed it two generated days of
# readings through the real protocol, and print a report read back from
# LMDB. The node keeps running afterwards; `make run-stop` stops it.
#
#   scripts/run.sh BUILD_DIR     start, push, report
#   scripts/run.sh --stop        stop the node started here
set -eu
cd "$(dirname "$0")/.."
. scripts/nodes.sh
VAR=./var
PIDFILE=$VAR/ecorolld.pid

stop() {
	stop_node "$PIDFILE" run
}

if [ "${1:-}" = "--stop" ]; then
	stop
	exit 0
fi
B=${1:-build}
mkdir -p "$VAR"
stop
export ECOROLL_ENDPOINT=tcp://127.0.0.1:7100
export ECOROLL_CONTROL=tcp://127.0.0.1:7101
"$B/ecorolld" -c conf/ecoroll.ini --pidfile "$PIDFILE" >>"$VAR/ecorolld.log" 2>&1 &
wait_node "$B" "$ECOROLL_CONTROL" $! "$VAR/ecorolld.log" run
echo "run: ecorolld is serving the sample city (log: $VAR/ecorolld.log)"

READINGS=$VAR/sample-readings.csv
"$B/ecoroll" generate --registry conf/sample-city --from 2026-11-01 --days 2 --seed 1 >"$READINGS"
echo "run: generated $(grep -vc '^#' "$READINGS") lines of readings into $READINGS"
# The push state makes a re-run idempotent: the same file is not counted twice.
ECOROLL_STATE=$VAR/push.state "$B/ecoroll" push "$READINGS" || [ $? -eq 3 ]

echo
echo "== City energy by day (native units), read back from LMDB"
"$B/ecoroll" query --city --res day --from 2026-11-01 --to 2026-11-03
echo
echo "== District D01 electricity by day"
"$B/ecoroll" query --district D01 --carrier electricity --res day --from 2026-11-01 --to 2026-11-03
echo
echo "== Enterprise E0101, electricity, 2026-11-01 08:00-12:00 by hour"
"$B/ecoroll" query --enterprise E0101 --carrier electricity --res hour \
	--from 2026-11-01T08:00 --to 2026-11-01T12:00
echo
echo "== Meter M-E0101-EL01 by day"
"$B/ecoroll" query --meter M-E0101-EL01 --res day
echo
echo "== Enterprise E0101 this month: energy in tce"
"$B/ecoroll" query --enterprise E0101 --res month --unit tce --from 2026-11-01 --to 2026-12-01
echo
echo "== Station S01: daily AQI (HJ 633-2026)"
"$B/ecoroll" air daily --station S01 --from 2026-11-01 --to 2026-11-03
echo
echo "== The city's air in 2026 so far (two days of data: not yet a valid year)"
"$B/ecoroll" air annual --city --year 2026
echo
"$B/ecoroll" status | head -n 12
echo
echo "run: ecorolld keeps running on tcp://127.0.0.1:7100 (control :7101)."
echo "     Try: $B/ecoroll query --enterprise E0203 --res day"
echo "     Stop it with: make run-stop"
