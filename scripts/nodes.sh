# nodes.sh: starting and stopping ecorolld for scripts/run.sh and
# scripts/cluster.sh (sourced, not run).

# stop_node PIDFILE NAME: SIGTERM the node and wait (up to 10 s) for it
# to commit, acknowledge and exit.
stop_node() {
	if [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then
		pid=$(cat "$1")
		kill -TERM "$pid"
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		echo "$2: stopped ecorolld ($pid)"
	fi
}

# wait_node BUILD CONTROL PID LOG NAME: wait (up to 10 s) until the node
# answers on its control endpoint; show its log and exit if it died.
wait_node() {
	i=0
	until "$1/ecoroll" status --control "$2" >/dev/null 2>&1; do
		i=$((i + 1))
		if ! kill -0 "$3" 2>/dev/null || [ $i -gt 100 ]; then
			echo "$5: ecorolld did not start; see $4:" >&2
			tail -n 20 "$4" >&2
			exit 1
		fi
		sleep 0.1
	done
}
