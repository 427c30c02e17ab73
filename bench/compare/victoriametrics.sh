#!/bin/sh
# Side by side: ecoroll against VictoriaMetrics (Debian's victoria-metrics)
# on the same readings and the same hourly rollup per district, in one run.
#
#   bench/compare/victoriametrics.sh [DAYS]      (default 30 days of the sample city)
#
# The readings are `ecoroll generate` for conf/sample-city. ecoroll gets them
# through `ecoroll push` (the real protocol, fsync per commit); VictoriaMetrics
# through its fastest bulk path, /api/v1/import (JSON lines, one line per
# series). Each system is timed from the first byte sent until the data is
# durable (ecoroll: the last ack) and queryable (VictoriaMetrics: its hourly
# rollup returns every district, after /internal/force_flush), and its CPU
# seconds and peak RSS are read from /proc. Both then answer the same
# rollup: per district, the electricity of each hour (ecoroll: the district
# hour rows; VictoriaMetrics: sum by (district) (increase(meter[1h]))).
# Everything listens on 127.0.0.1 and runs in a temporary directory.
set -eu
cd "$(dirname "$0")/../.."
DAYS=${1:-30}
B=${B:-build}
[ -x "$B/ecorolld" ] || make --no-print-directory all >/dev/null
if ! command -v victoria-metrics >/dev/null 2>&1; then
	echo "compare: installing victoria-metrics (Debian)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq victoria-metrics >/dev/null
fi
T=$(mktemp -d)
VMPID= ERPID=
cleanup() {
	[ -n "$VMPID" ] && kill "$VMPID" 2>/dev/null || true
	[ -n "$ERPID" ] && kill "$ERPID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"; }
hwm_mb() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }

echo "compare: generating $DAYS days of the sample city" >&2
"$B/ecoroll" generate --registry conf/sample-city --from 2025-01-01 --days "$DAYS" --meters-only >"$T/readings.csv"
N=$(grep -vc '^#\|^series,' "$T/readings.csv" || true)
# The same readings as VictoriaMetrics JSON lines, one line per meter, with
# its district as a label (converting is not timed).
python3 - "$T/readings.csv" "$T/import.jsonl" <<'PY'
import csv, json, sys
from datetime import datetime
ent = {}
with open("conf/sample-city/enterprises.csv", encoding="utf-8") as f:
    for r in csv.reader(l for l in f if not l.startswith("#")):
        if r and r[0] != "code":
            ent[r[0]] = r[2]
meter = {}
with open("conf/sample-city/meters.csv") as f:
    for r in csv.reader(l for l in f if not l.startswith("#")):
        if r and r[0] != "code":
            meter[r[0]] = (ent[r[1]], r[2])
series = {}
with open(sys.argv[1]) as f:
    for line in f:
        if line.startswith("#") or line.startswith("series,"):
            continue
        code, ts, v = line.rstrip("\n").split(",")
        t = int(datetime.fromisoformat(ts).timestamp() * 1000)
        s = series.setdefault(code, ([], []))
        s[0].append(float(v))
        s[1].append(t)
with open(sys.argv[2], "w") as out:
    for code, (vals, tss) in series.items():
        d, carrier = meter[code]
        out.write(json.dumps({"metric": {"__name__": "meter", "series": code, "district": d, "carrier": carrier},
                              "values": vals, "timestamps": tss}) + "\n")
PY

# ---- ecoroll ----
EP=tcp://127.0.0.1:$(port)
CP=tcp://127.0.0.1:$(port)
"$B/ecorolld" -c conf/ecoroll.ini --data-dir "$T/er" --listen "$EP" --control "$CP" --set api.listen= >"$T/ecorolld.log" 2>&1 &
ERPID=$!
i=0
until "$B/ecoroll" status --control "$CP" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "compare: ecorolld did not start" >&2; cat "$T/ecorolld.log" >&2; exit 1; }
	sleep 0.1
done
C0=$(cpu_s $ERPID)
T0=$(now)
ECOROLL_STATE=$T/push.state "$B/ecoroll" push --endpoint "$EP" --batch 5000 --window 16 --quiet \
	"$T/readings.csv" >"$T/push.out" 2>&1 || { cat "$T/push.out" >&2; exit 1; }
T1=$(now)
ER_S=$(calc "$T1 - $T0")
ER_CPU=$(calc "$(cpu_s $ERPID) - $C0")
ER_RSS=$(hwm_mb $ERPID)
ER_ROWS=$("$B/ecoroll" query --control "$CP" --district D01 --carrier electricity --res hour --json |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))')

# ---- VictoriaMetrics ----
VP=$(port)
victoria-metrics -storageDataPath="$T/vm" -httpListenAddr="127.0.0.1:$VP" -retentionPeriod=100y \
	-search.disableCache >"$T/vm.log" 2>&1 &
VMPID=$!
i=0
until curl -sf "http://127.0.0.1:$VP/health" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "compare: victoria-metrics did not start" >&2; tail "$T/vm.log" >&2; exit 1; }
	sleep 0.1
done
C0=$(cpu_s $VMPID)
T0=$(now)
curl -sf --data-binary "@$T/import.jsonl" "http://127.0.0.1:$VP/api/v1/import"
curl -sf "http://127.0.0.1:$VP/internal/force_flush" >/dev/null
# queryable: the hourly rollup answers for every district
START=$(date -d 2025-01-01T00:00:00+08:00 +%s)
END=$((START + DAYS * 86400))
Q='sum by (district) (increase(meter{carrier="electricity"}[1h]))'
i=0
while :; do
	NDIST=$(curl -sf "http://127.0.0.1:$VP/api/v1/query_range" --data-urlencode "query=$Q" \
		--data-urlencode "start=$START" --data-urlencode "end=$END" --data-urlencode "step=3600" |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))')
	[ "$NDIST" -ge 4 ] && break
	i=$((i + 1))
	[ $i -lt 600 ] || { echo "compare: VictoriaMetrics never answered for 4 districts" >&2; exit 1; }
	sleep 0.1
done
T1=$(now)
VM_S=$(calc "$T1 - $T0")
VM_CPU=$(calc "$(cpu_s $VMPID) - $C0")
VM_RSS=$(hwm_mb $VMPID)

printf '\n%s readings (%s days of conf/sample-city), hourly electricity per district\n' "$N" "$DAYS"
printf '%-18s %12s %14s %10s %12s\n' system seconds readings/s cpu_s peak_rss_MB
printf '%-18s %12.3f %14.0f %10.2f %12s\n' ecoroll "$ER_S" "$(calc "$N / $ER_S")" "$ER_CPU" "$ER_RSS"
printf '%-18s %12.3f %14.0f %10.2f %12s\n' VictoriaMetrics "$VM_S" "$(calc "$N / $VM_S")" "$VM_CPU" "$VM_RSS"
printf 'ratio (ecoroll / VictoriaMetrics readings/s): %.2f\n' "$(calc "$VM_S / $ER_S")"
printf 'ecoroll D01 electricity hour rows: %s; VictoriaMetrics districts answered: %s\n' "$ER_ROWS" "$NDIST"
