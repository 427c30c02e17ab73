#!/bin/sh
# make run-cluster: a three-tier deployment on loopback (README "Three
# tiers"). The sample city is split among three district nodes (dn1: D01,
# dn2: D02, dn3: D03 and D04) that send their rollups to one city node;
# two days of readings go to the district nodes, each its own part, and
# the city's report is read back from the city node's LMDB. The nodes keep
# running; `make run-cluster-stop` stops them.
#
#   scripts/cluster.sh BUILD_DIR     start, push, report
#   scripts/cluster.sh --stop        stop the nodes started here
#
# Ports: the city 7400 (ingest), 7401 (control) and 7403 (HTTP /metrics);
# district node k 74k0, 74k1 and 74k3. Data, logs and the split registry under var/cluster/.
set -eu
cd "$(dirname "$0")/.."
. scripts/nodes.sh
VAR=./var/cluster
NODES="city dn1 dn2 dn3"

stop() {
	for n in $NODES; do
		stop_node "$VAR/$n.pid" "cluster: $n"
	done
}

if [ "${1:-}" = "--stop" ]; then
	stop
	exit 0
fi
B=${1:-build}
mkdir -p "$VAR"
stop

# The registry of each district node, and the readings of its meters.
READINGS=$VAR/readings.csv
"$B/ecoroll" generate --registry conf/sample-city --from 2026-11-01 --days 2 --seed 1 >"$READINGS"
python3 scripts/split_city.py conf/sample-city "$VAR/split" D01 D02 D03,D04 --readings "$READINGS"

# The city node: no registry of its own; the district nodes announce theirs.
"$B/ecorolld" -c conf/ecoroll.ini --role city --name city --data-dir "$VAR/city" \
	--listen tcp://127.0.0.1:7400 --control tcp://127.0.0.1:7401 --set warnings.publish= --set api.listen=127.0.0.1:7403 \
	--set registry.districts= --set registry.enterprises= --set registry.meters= --set registry.stations= \
	--pidfile "$VAR/city.pid" >>"$VAR/city.log" 2>&1 &
wait_node "$B" tcp://127.0.0.1:7401 $! "$VAR/city.log" "cluster: city"
echo "cluster: city node serving on tcp://127.0.0.1:7400 (control :7401)"

for k in 1 2 3; do
	r=$VAR/split/$k
	"$B/ecorolld" -c conf/ecoroll.ini --role district --name "dn$k" --upstream tcp://127.0.0.1:7400 \
		--data-dir "$VAR/dn$k" --listen "tcp://127.0.0.1:74${k}0" --control "tcp://127.0.0.1:74${k}1" \
		--set warnings.publish= --set "api.listen=127.0.0.1:74${k}3" --set "registry.districts=$r/districts.csv" \
		--set "registry.enterprises=$r/enterprises.csv" --set "registry.meters=$r/meters.csv" \
		--set "registry.stations=$r/stations.csv" --pidfile "$VAR/dn$k.pid" >>"$VAR/dn$k.log" 2>&1 &
	wait_node "$B" "tcp://127.0.0.1:74${k}1" $! "$VAR/dn$k.log" "cluster: dn$k"
	echo "cluster: district node dn$k ($(grep -v '^code' "$r/districts.csv" | cut -d, -f1 | tr '\n' ' ')) on tcp://127.0.0.1:74${k}0 (control :74${k}1)"
done

for k in 1 2 3; do
	ECOROLL_STATE=$VAR/push$k.state "$B/ecoroll" push -q --endpoint "tcp://127.0.0.1:74${k}0" \
		"$VAR/split/$k/readings.csv" || [ $? -eq 3 ]
done

# The city has everything when every outbox is empty and acknowledged.
i=0
for k in 1 2 3; do
	until "$B/ecoroll" status --control "tcp://127.0.0.1:74${k}1" | grep -Eq '^  outbox_entries +0$'; do
		i=$((i + 1))
		if [ $i -gt 600 ]; then
			echo "cluster: dn$k's outbox did not drain; see $VAR/dn$k.log" >&2
			exit 1
		fi
		sleep 0.1
	done
done

C="--control tcp://127.0.0.1:7401"
echo
echo "== The city node: city energy by day (native units)"
"$B/ecoroll" query $C --city --res day --from 2026-11-01 --to 2026-11-03
echo
echo "== The city node: each district's electricity, 2026-11"
for d in D01 D02 D03 D04; do
	"$B/ecoroll" query $C --district "$d" --carrier electricity --res month --from 2026-11-01 --to 2026-12-01 |
		sed "s/^/$d  /"
done
echo
echo "== The city node: enterprise E0203 (district node dn2) this month, in tce"
"$B/ecoroll" query $C --enterprise E0203 --res month --unit tce --from 2026-11-01 --to 2026-12-01
echo
echo "== The city node: the city's daily AQI"
"$B/ecoroll" air daily $C --city --from 2026-11-01 --to 2026-11-03
echo
echo "== The city node's status (district nodes, their high-water marks, what they own)"
"$B/ecoroll" status $C | sed -n '/^senders/,$p'
echo
echo "== District node dn3's uplink"
"$B/ecoroll" status --control tcp://127.0.0.1:7431 | grep -E 'outbox_|uplink' 
echo
echo "== District node dn3's metrics (curl http://127.0.0.1:7433/metrics), the tier's part"
if command -v curl >/dev/null 2>&1; then
	curl -s http://127.0.0.1:7433/metrics | grep -E '^ecoroll_(info[{]|(outbox_entries|outbox_bytes|uplink_lag_s|uplink_acked_seq) )'
fi
echo
echo "cluster: four nodes keep running (logs in $VAR). Stop them with: make run-cluster-stop"
