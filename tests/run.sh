#!/bin/sh
# Runs test programs and counts their TAP lines (cmocka with
# CMOCKA_MESSAGE_OUTPUT=TAP). A program that dies without printing "not ok"
# counts as one failure. Ends with "N passed, N failed".
#
#   run.sh --bin DIR [--log FILE] [--label NAME] [--also LOG]... PROG...
# --log writes the per-program results and the counts to FILE instead of
# the final line (the sanitizer passes); --also adds such a log's counts.
set -u
bin=build log="" label="" also=""
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) bin=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--label) label=$2; shift 2 ;;
	--also) also="$also $2"; shift 2 ;;
	*) break ;;
	esac
done
export CMOCKA_MESSAGE_OUTPUT=TAP
# A race or a leak stops the program (and a daemon under test) at once.
export TSAN_OPTIONS="suppressions=$(pwd)/tests/tsan.supp halt_on_error=1 ${TSAN_OPTIONS:-}"
export ECOROLL_BIN="$(cd "$bin" && pwd)"
export ECOROLL_SRC="$(pwd)"
pass=0 fail=0 out=$(mktemp)
tag=${label:+[$label] }
for prog in "$@"; do
	name=$(basename "$prog")
	"$prog" >"$out" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc"
	fi
	if [ "$f" != 0 ]; then
		echo "== ${tag}$name: $p passed, $f failed"
		grep -v '^ok ' "$out" | tail -n 60
	else
		echo "== ${tag}$name: $p passed"
	fi
	pass=$((pass + p))
	fail=$((fail + f))
done
rm -f "$out"
if [ -n "$log" ]; then
	mkdir -p "$(dirname "$log")"
	echo "$pass $fail" >"$log"
	exit 0
fi
for l in $also; do
	if [ -f "$l" ]; then
		read -r p f <"$l"
		pass=$((pass + p))
		fail=$((fail + f))
	else
		echo "missing sanitizer results: $l"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
