#!/usr/bin/env bash
# The load harness: pihu under wrk on loopback, next to a bare net/http
# server answering the same bytes to the same request (whoami's, with its
# Authorization header). See BENCHMARKS.md for what it reports.
#
#   bench/run.sh warm [ROUNDS] [SECONDS]   /healthz, whoami and the bare server,
#                                          alternating, ROUNDS rounds (default 3 × 5 s);
#                                          with BASE_BIN=path, also /healthz and whoami of
#                                          that binary (healthz0, whoami0) in the same
#                                          rounds: a before/after in one run
#   bench/run.sh doors [ROUNDS] [SECONDS]  every door of a key against a bare server answering
#                                          its bytes, alternating (default 3 × 5 s): whoami with
#                                          the key, whoami with an access token minted from it,
#                                          POST /v1/auth/verify (the bare server reads the same
#                                          body first), whoami with a key holding two roles,
#                                          whoami with a key of an identity (metadata, a shared
#                                          limit) that also holds the two roles and two named
#                                          limits; a CPU-per-request ratio for each door
#   bench/run.sh extauthz [ROUNDS] [SECONDS]
#                                          Envoy's Check from 32 concurrent streams of one
#                                          connection (STREAMS=N), pihu's --ext-authz-addr
#                                          checking a permission against a bare gRPC server
#                                          answering pihu's OK, alternating (default 3 × 5 s):
#                                          calls a second, p50, p99 and server CPU per call;
#                                          then both again at RATE calls a second in all
#                                          (default 5000; the @rate rows): the latency of a
#                                          server that keeps up, not of a full queue
#   bench/run.sh cold [N] [SAMPLE]         N keys in SQLite (default 1,000,000), start-up
#                                          time (3 starts), then whoami once with each of
#                                          SAMPLE distinct keys (default 20,000)
#   bench/run.sh create [SECONDS]          keys created by 8 concurrent clients (default 10 s)
#   bench/run.sh instances [ROUNDS] [SECONDS]
#                                          whoami on PostgreSQL, alternating (default 3 × 5 s):
#                                          the bare server, one instance without Redis, one
#                                          with Redis (leased limits), one with --exact-limits,
#                                          two with Redis, and one and two with Redis behind a
#                                          proxy adding REDIS_DELAY (default 1ms); then each
#                                          round a key at LIMIT (default 6000/m) hammered on two
#                                          instances, its admitted requests against the bound of
#                                          docs/rate-limits.md (exit 1 if over); needs psql, and
#                                          reads PIHU_TEST_POSTGRES_URL and PIHU_TEST_REDIS_URL
#   bench/run.sh gateway [ROUNDS] [SECONDS]
#                                          through nginx with one worker (default 3 × 5 s):
#                                          nginx alone in front of a bare upstream; nginx
#                                          auth_request to a bare server answering the
#                                          forward-auth endpoint's 200; nginx auth_request
#                                          to pihu's forward-auth checking a permission,
#                                          with docs/gateways.md's nginx config; needs
#                                          nginx (apt-get install -y nginx-light). CONNS=N
#                                          sets wrk's connections (default 32; CONNS=1 with
#                                          1 round of 1 s is a smoke run)
#   bench/run.sh startup [N]               start-up time with 1,000 keys and with N, alternating
#   bench/run.sh profile [SECONDS] [DIR]   a CPU profile of each of the three warm targets
#                                          under wrk (default 10 s), saved in DIR (default
#                                          bench-profiles) as bare.pprof, healthz.pprof and
#                                          whoami.pprof; compare them with
#                                          go tool pprof -top -diff_base DIR/bare.pprof DIR/healthz.pprof
#
# Cold mode with WARM=1 sends the sample a second time and reports the RSS
# again: the memory of warm keys (the sample must take under 30 s).
# Cold mode with PIHU_ARGS="--pprof 127.0.0.1:0" HEAP=FILE also saves a heap
# profile of the server once every sampled key is cached; it sends keys for
# 10 minutes at most, COLD_MAX=30m (a Go duration) for longer.
#
# PIHU_BIN=path uses that binary instead of building this tree (to compare
# two versions side by side); PIHU_ARGS adds flags to serve. Only
# 127.0.0.1 is loaded; every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-warm}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${PIHU_BIN:-}" ]; then
	pihu=$PIHU_BIN
else
	pihu=$work/pihu
	go build -o "$pihu" ./cmd/pihu
fi
go build -o "$work/pihubench" ./bench/pihubench

# start_pihu DB [BINARY] [LOG]: starts serve on a free port with a limit
# no benchmark reaches; sets pid and url.
start_pihu() {
	local bin=${2:-$pihu} log=${3:-$work/pihu.log}
	"$bin" serve --addr 127.0.0.1:0 --database "sqlite:$1" --rate-limit 1000000/s ${PIHU_ARGS:-} 2>"$log" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 1 6000); do
		url=$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/http:\/\/\1/p' "$log" | head -1)
		[ -n "$url" ] && return 0
		sleep 0.01
	done
	echo "pihu did not start:" >&2
	cat "$log" >&2
	exit 1
}

# cpu_ticks PID: user + system time of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wrk_round PID WRK-ARGS...: one round of wrk (one thread, 32 connections,
# $secs seconds) with WRK-ARGS against the server of PID; sets out (wrk's
# report), rps, n, p50, p99 and cpu (the server's CPU a request, in µs).
wrk_round() {
	local p=$1 before after
	shift
	before=$(cpu_ticks "$p")
	out=$(wrk -t1 -c32 -d"${secs}s" --latency "$@")
	after=$(cpu_ticks "$p")
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	p50=$(awk '$1=="50%" {print $2}' <<<"$out")
	p99=$(awk '$1=="99%" {print $2}' <<<"$out")
	cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN {printf "%.1f", t / hz / n * 1e6}')
}

case $mode in
warm)
	command -v wrk >/dev/null || {
		echo "wrk is missing: install it with 'apt-get install -y wrk' (Debian package wrk)" >&2
		exit 1
	}
	rounds=${2:-3}
	secs=${3:-5}
	targets="bare healthz whoami"
	if [ -n "${BASE_BIN:-}" ]; then
		start_pihu "$work/base.db" "$BASE_BIN" "$work/base.log"
		base_pid=$pid base_url=$url
		base_key=$(cat "$work/base.db.owner-key")
		targets="bare healthz0 healthz whoami0 whoami"
	fi
	start_pihu "$work/pihu.db"
	key=$(cat "$work/pihu.db.owner-key")
	"$work/pihubench" bare -from "$url" -key "$key" >"$work/bare.addr" &
	bare_pid=$!
	pids+=("$bare_pid")
	for _ in $(seq 1 100); do [ -s "$work/bare.addr" ] && break; sleep 0.1; done
	bare_url="http://$(cat "$work/bare.addr")"
	hz=$(getconf CLK_TCK)
	printf 'machine: %s cores, %s; load average %s\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-6s %-8s %10s %9s %9s %12s\n' round target "req/s" p50 p99 "cpu/req µs"
	declare -A sum_rps sum_cpu
	for r in $(seq 1 "$rounds"); do
		for target in $targets; do
			case $target in
			bare) u=$bare_url/v1/auth/whoami p=$bare_pid hdr=(-H "Authorization: Bearer $key") ;;
			healthz) u=$url/healthz p=$pid hdr=() ;;
			whoami) u=$url/v1/auth/whoami p=$pid hdr=(-H "Authorization: Bearer $key") ;;
			healthz0) u=$base_url/healthz p=$base_pid hdr=() ;;
			whoami0) u=$base_url/v1/auth/whoami p=$base_pid hdr=(-H "Authorization: Bearer $base_key") ;;
			esac
			wrk_round "$p" "${hdr[@]}" "$u"
			printf '%-6s %-8s %10s %9s %9s %12s\n' "$r" "$target" "$rps" "$p50" "$p99" "$cpu"
			sum_rps[$target]=$(awk -v a="${sum_rps[$target]:-0}" -v b="$rps" 'BEGIN {print a + b}')
			sum_cpu[$target]=$(awk -v a="${sum_cpu[$target]:-0}" -v b="$cpu" 'BEGIN {print a + b}')
		done
	done
	awk -v wr="${sum_rps[whoami]}" -v hr="${sum_rps[healthz]}" -v br="${sum_rps[bare]}" \
		-v wc="${sum_cpu[whoami]}" -v bc="${sum_cpu[bare]}" 'BEGIN {
		printf "ratios (means of the rounds): whoami/healthz req/s %.2f, whoami/bare req/s %.2f, whoami/bare cpu per request %.2f\n", wr / hr, wr / br, wc / bc
	}'
	if [ -n "${BASE_BIN:-}" ]; then
		awk -v wr="${sum_rps[whoami0]}" -v hr="${sum_rps[healthz0]}" -v br="${sum_rps[bare]}" \
			-v wc="${sum_cpu[whoami0]}" -v hc="${sum_cpu[healthz0]}" -v bc="${sum_cpu[bare]}" \
			-v nwc="${sum_cpu[whoami]}" -v nhc="${sum_cpu[healthz]}" -v n="$rounds" 'BEGIN {
			printf "BASE_BIN ratios: whoami/healthz req/s %.2f, whoami/bare req/s %.2f, whoami/bare cpu per request %.2f\n", wr / hr, wr / br, wc / bc
			printf "mean cpu/req µs: bare %.1f; healthz %.1f -> %.1f (BASE_BIN -> this), whoami %.1f -> %.1f\n", bc / n, hc / n, nhc / n, wc / n, nwc / n
		}'
	fi
	;;
doors)
	command -v wrk >/dev/null || {
		echo "wrk is missing: install it with 'apt-get install -y wrk' (Debian package wrk)" >&2
		exit 1
	}
	rounds=${2:-3}
	secs=${3:-5}
	start_pihu "$work/pihu.db"
	key=$(cat "$work/pihu.db.owner-key")
	token=$(curl -fsS -X POST "$url/v1/auth/tokens" -H "Authorization: Bearer $key" \
		-H "Content-Type: application/json" -d '{"permissions": ["candidate:read"], "expires_in": "1h"}' |
		sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
	[ -n "$token" ] || { echo "could not mint an access token" >&2; exit 1; }
	verify_body="{\"key\":\"$key\"}"
	# A key holding two roles and no permission of its own.
	role_ids=()
	for r in '"readers", "permissions": ["candidate:read", "interview:read"]' '"webhooks", "permissions": ["webhook:read"]'; do
		role_ids+=("$(curl -fsS -X POST "$url/v1/roles" -H "Authorization: Bearer $key" \
			-H "Content-Type: application/json" -d "{\"name\": $r}" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')")
	done
	roles_key=$(curl -fsS -X POST "$url/v1/auth/api-keys" -H "Authorization: Bearer $key" \
		-H "Content-Type: application/json" -d "{\"name\": \"roles\", \"roles\": [\"${role_ids[0]}\", \"${role_ids[1]}\"]}" |
		sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
	[ -n "$roles_key" ] || { echo "could not create a key with roles" >&2; exit 1; }
	# A key of an identity with metadata and a shared rate limit (as
	# high as the server's, so that wrk is never refused), holding the
	# two roles and two named limits (whoami spends neither: they ride in
	# the cached key).
	identity_id=$(curl -fsS -X POST "$url/v1/identities" -H "Authorization: Bearer $key" \
		-H "Content-Type: application/json" -d '{"external_id": "org_acme", "metadata": {"plan": "pro"}, "rate_limit": "1000000/s"}' |
		sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
	identity_key=$(curl -fsS -X POST "$url/v1/auth/api-keys" -H "Authorization: Bearer $key" \
		-H "Content-Type: application/json" -d "{\"name\": \"identity\", \"permissions\": [\"candidate:read\"], \"roles\": [\"${role_ids[0]}\", \"${role_ids[1]}\"], \"identity_id\": \"$identity_id\", \"ratelimits\": {\"tokens\": \"1000000/d\", \"images\": \"1000/m\"}}" |
		sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
	[ -n "$identity_key" ] || { echo "could not create a key of an identity" >&2; exit 1; }
	# bare_for NAME CREDENTIAL [pihubench flags]: a bare server answering
	# what pihu answered to that request; sets NAME's URL and pid.
	declare -A door_url door_pid
	bare_for() {
		local name=$1 cred=$2
		shift 2
		"$work/pihubench" bare -from "$url" -key "$cred" "$@" >"$work/$name.addr" &
		door_pid[$name]=$!
		pids+=("$!")
		for _ in $(seq 1 100); do [ -s "$work/$name.addr" ] && break; sleep 0.1; done
		door_url[$name]="http://$(cat "$work/$name.addr")"
	}
	bare_for bare-whoami "$key"
	bare_for bare-token "$token"
	bare_for bare-roles "$roles_key"
	bare_for bare-identity "$identity_key"
	bare_for bare-verify "$key" -method POST -path /v1/auth/verify -data "$verify_body"
	cat >"$work/verify.lua" <<LUA
wrk.method = "POST"
wrk.body = '$verify_body'
wrk.headers["Content-Type"] = "application/json"
LUA
	hz=$(getconf CLK_TCK)
	printf 'machine: %s cores, %s; load average %s\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-6s %-12s %10s %9s %9s %12s\n' round target "req/s" p50 p99 "cpu/req µs"
	declare -A sum_cpu
	doors="bare-whoami whoami bare-token token bare-verify verify bare-roles roles bare-identity identity"
	for r in $(seq 1 "$rounds"); do
		for target in $doors; do
			extra=()
			case $target in
			whoami) u=$url/v1/auth/whoami p=$pid hdr=(-H "Authorization: Bearer $key") ;;
			token) u=$url/v1/auth/whoami p=$pid hdr=(-H "Authorization: Bearer $token") ;;
			roles) u=$url/v1/auth/whoami p=$pid hdr=(-H "Authorization: Bearer $roles_key") ;;
			identity) u=$url/v1/auth/whoami p=$pid hdr=(-H "Authorization: Bearer $identity_key") ;;
			verify) u=$url/v1/auth/verify p=$pid hdr=(-H "Authorization: Bearer $key") extra=(-s "$work/verify.lua") ;;
			bare-whoami) u=${door_url[$target]}/v1/auth/whoami p=${door_pid[$target]} hdr=(-H "Authorization: Bearer $key") ;;
			bare-token) u=${door_url[$target]}/v1/auth/whoami p=${door_pid[$target]} hdr=(-H "Authorization: Bearer $token") ;;
			bare-roles) u=${door_url[$target]}/v1/auth/whoami p=${door_pid[$target]} hdr=(-H "Authorization: Bearer $roles_key") ;;
			bare-identity) u=${door_url[$target]}/v1/auth/whoami p=${door_pid[$target]} hdr=(-H "Authorization: Bearer $identity_key") ;;
			bare-verify) u=${door_url[$target]}/v1/auth/verify p=${door_pid[$target]} hdr=(-H "Authorization: Bearer $key") extra=(-s "$work/verify.lua") ;;
			esac
			wrk_round "$p" "${hdr[@]}" "${extra[@]}" "$u"
			if grep -q 'Non-2xx' <<<"$out"; then
				echo "$target: answers other than 2xx:" >&2
				echo "$out" >&2
				exit 1
			fi
			printf '%-6s %-12s %10s %9s %9s %12s\n' "$r" "$target" "$rps" "$p50" "$p99" "$cpu"
			sum_cpu[$target]=$(awk -v a="${sum_cpu[$target]:-0}" -v b="$cpu" 'BEGIN {print a + b}')
		done
	done
	for d in whoami token verify roles identity; do
		awk -v d="$d" -v c="${sum_cpu[$d]}" -v b="${sum_cpu[bare-$d]}" -v n="$rounds" \
			'BEGIN {printf "%-7s cpu per request %.1f µs, bare %.1f µs: %.2fx\n", d, c / n, b / n, c / b}'
	done
	awk -v r="${sum_cpu[roles]}" -v w="${sum_cpu[whoami]}" \
		'BEGIN {printf "roles   cpu per request against whoami with a plain key: %.2fx (the goal: 1.10 or less)\n", r / w}'
	awk -v r="${sum_cpu[identity]}" -v w="${sum_cpu[whoami]}" \
		'BEGIN {printf "identity cpu per request (two roles, an identity, two named limits) against whoami with a plain key: %.2fx (the goal: 1.10 or less)\n", r / w}'
	;;
extauthz)
	rounds=${2:-3}
	secs=${3:-5}
	streams=${STREAMS:-32}
	rate=${RATE:-5000}
	PIHU_ARGS="${PIHU_ARGS:-} --ext-authz-addr 127.0.0.1:0" start_pihu "$work/pihu.db"
	key=$(cat "$work/pihu.db.owner-key")
	check_addr=$(sed -n 's/.*ext_authz_addr=\([^ ]*\).*/\1/p' "$work/pihu.log" | head -1)
	[ -n "$check_addr" ] || { echo "pihu does not serve Check:" >&2; cat "$work/pihu.log" >&2; exit 1; }
	"$work/pihubench" barecheck -from "$check_addr" -key "$key" >"$work/barecheck.addr" &
	bare_pid=$!
	pids+=("$bare_pid")
	for _ in $(seq 1 100); do [ -s "$work/barecheck.addr" ] && break; sleep 0.1; done
	bare_addr=$(cat "$work/barecheck.addr")
	hz=$(getconf CLK_TCK)
	printf 'machine: %s cores, %s; load average %s\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-6s %-10s %10s %10s %10s %12s\n' round target "calls/s" p50 p99 "cpu/call µs"
	declare -A sum_cpu
	for r in $(seq 1 "$rounds"); do
		for target in bare pihu bare@rate pihu@rate; do
			pace=()
			case $target in
			bare) a=$bare_addr p=$bare_pid ;;
			pihu) a=$check_addr p=$pid ;;
			bare@rate) a=$bare_addr p=$bare_pid pace=(-rate "$rate") ;;
			pihu@rate) a=$check_addr p=$pid pace=(-rate "$rate") ;;
			esac
			before=$(cpu_ticks "$p")
			out=$("$work/pihubench" checkload -addr "$a" -key "$key" -c "$streams" -d "${secs}s" "${pace[@]}")
			after=$(cpu_ticks "$p")
			read -r _ n _ rps _ p50 _ p99 <<<"$out"
			cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.1f", t / hz / n * 1e6}')
			printf '%-6s %-10s %10s %10s %10s %12s\n' "$r" "$target" "$rps" "$p50" "$p99" "$cpu"
			sum_cpu[$target]=$(awk -v a="${sum_cpu[$target]:-0}" -v b="$cpu" 'BEGIN {print a + b}')
		done
	done
	awk -v c="${sum_cpu[pihu]}" -v b="${sum_cpu[bare]}" -v n="$rounds" \
		'BEGIN {printf "Check cpu per call %.1f µs, bare %.1f µs: %.2fx\n", c / n, b / n, c / b}'
	;;
cold)
	n=${2:-1000000}
	sample=${3:-20000}
	# KEEP=DIR keeps the seeded database in DIR, and reuses it if there.
	db=$work/pihu.db secrets=$work/secrets
	if [ -n "${KEEP:-}" ]; then
		mkdir -p "$KEEP"
		db=$KEEP/pihu-$n.db secrets=$KEEP/secrets-$n
	fi
	if [ ! -s "$secrets" ]; then
		"$work/pihubench" seed -db "$db" -n "$n" -secrets "$secrets"
	fi
	for i in 1 2 3; do
		start=$(date +%s.%N)
		start_pihu "$db"
		started=$(date +%s.%N)
		printf 'start-up %d with %d keys: %.0f ms (to the listening line), RSS %s kB\n' "$i" "$n" "$(awk -v a="$start" -v b="$started" 'BEGIN {print (b - a) * 1000}')" "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
		[ "$i" = 3 ] && break
		kill "$pid"
		wait "$pid" 2>/dev/null || true
	done
	"$work/pihubench" cold -url "$url" -secrets "$secrets" -n "$sample" -c 4 -max "${COLD_MAX:-10m}"
	sleep 0.3 # the request log is flushed every 100 ms
	"$work/pihubench" logstats -log "$work/pihu.log" -path /v1/auth/whoami
	printf 'RSS after %d distinct keys: %s kB (peak %s kB)\n' "$sample" "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")" "$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
	# WARM=1 sends the same keys again at once: hits, if the sample takes
	# less than the cache's 30 s (about 200,000 keys here).
	if [ -n "${WARM:-}" ]; then
		"$work/pihubench" cold -url "$url" -secrets "$secrets" -n "$sample" -c 4 -max "${COLD_MAX:-10m}"
		printf 'RSS after the same %d keys again: %s kB (peak %s kB)\n' "$sample" "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")" "$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
	fi
	# With PIHU_ARGS="--pprof 127.0.0.1:0", HEAP=FILE saves a heap profile.
	pprof=$(sed -n 's/.*pprof_addr=\([^ ]*\).*/\1/p' "$work/pihu.log" | head -1)
	if [ -n "${HEAP:-}" ] && [ -n "$pprof" ]; then
		curl -s -o "$HEAP" "http://$pprof/debug/pprof/heap?gc=1"
		echo "heap profile: $HEAP (go tool pprof -sample_index=inuse_space -top $HEAP)"
	fi
	;;
startup)
	# Start-up time on a database of 1,000 keys and one of N, alternating,
	# 5 starts each (KEEP=DIR reuses seeded databases, as for cold).
	n=${2:-1000000}
	dir=${KEEP:-$work}
	mkdir -p "$dir"
	for size in 1000 "$n"; do
		[ -s "$dir/secrets-$size" ] || "$work/pihubench" seed -db "$dir/pihu-$size.db" -n "$size" -secrets "$dir/secrets-$size"
	done
	for i in 1 2 3 4 5; do
		for size in 1000 "$n"; do
			start=$(date +%s.%N)
			start_pihu "$dir/pihu-$size.db"
			started=$(date +%s.%N)
			printf 'start %d, %d keys: %.0f ms to the listening line, RSS %s kB\n' "$i" "$size" "$(awk -v a="$start" -v b="$started" 'BEGIN {print (b - a) * 1000}')" "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
			kill "$pid"
			wait "$pid" 2>/dev/null || true
		done
	done
	;;
create)
	secs=${2:-10}
	start_pihu "$work/pihu.db"
	key=$(cat "$work/pihu.db.owner-key")
	"$work/pihubench" create -url "$url" -key "$key" -c 8 -d "${secs}s"
	;;
instances)
	command -v wrk >/dev/null || {
		echo "wrk is missing: install it with 'apt-get install -y wrk' (Debian package wrk)" >&2
		exit 1
	}
	command -v psql >/dev/null || {
		echo "psql is missing: install it with 'apt-get install -y postgresql-client'" >&2
		exit 1
	}
	rounds=${2:-3}
	secs=${3:-5}
	limit=${LIMIT:-6000/m}
	pg=${PIHU_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
	redis=${PIHU_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
	schema=pihu_bench_$$
	psql "$pg" -qc "CREATE SCHEMA $schema"
	trap 'cleanup; psql "$pg" -qc "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true' EXIT
	case $pg in *\?*) db="$pg&search_path=$schema" ;; *) db="$pg?search_path=$schema" ;; esac
	# The same Redis behind a proxy that delays every byte sent to it by
	# REDIS_DELAY (default 1ms): Redis across a network.
	hostport=${redis#*://}
	hostport=${hostport##*@}
	hostport=${hostport%%/*}
	"$work/pihubench" proxy -to "$hostport" -delay "${REDIS_DELAY:-1ms}" >"$work/proxy.addr" &
	pids+=("$!")
	for _ in $(seq 1 100); do [ -s "$work/proxy.addr" ] && break; sleep 0.05; done
	slow=${redis/$hostport/$(cat "$work/proxy.addr")}
	# start_instance NAME [ARGS…]: serve on PostgreSQL with ARGS, in its
	# own folder (where the first start writes the owner key); sets pid
	# and url, and NAME_pid and NAME_url.
	start_instance() {
		local name=$1
		shift
		mkdir -p "$work/$name"
		(cd "$work/$name" && exec "$pihu" serve --addr 127.0.0.1:0 --database "$db" \
			--rate-limit 1000000/s "$@" ${PIHU_ARGS:-} 2>"$work/$name.log") &
		pid=$!
		pids+=("$pid")
		for _ in $(seq 1 6000); do
			url=$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/http:\/\/\1/p' "$work/$name.log" | head -1)
			if [ -n "$url" ]; then
				printf -v "${name}_pid" %s "$pid"
				printf -v "${name}_url" %s "$url"
				return 0
			fi
			sleep 0.01
		done
		echo "pihu did not start:" >&2
		cat "$work/$name.log" >&2
		exit 1
	}
	start_instance solo
	start_instance one --redis "$redis"
	start_instance two --redis "$redis"
	start_instance exact --redis "$redis" --exact-limits
	start_instance slow1 --redis "$slow"
	start_instance slow2 --redis "$slow"
	key=$(cat "$work/solo/pihu.owner-key")
	"$work/pihubench" bare -from "$solo_url" -key "$key" >"$work/bare.addr" &
	bare_pid=$!
	pids+=("$bare_pid")
	for _ in $(seq 1 100); do [ -s "$work/bare.addr" ] && break; sleep 0.1; done
	bare_url="http://$(cat "$work/bare.addr")"
	hz=$(getconf CLK_TCK)
	# run TARGET: wrk on the target's instances (32 connections in all),
	# sets rps, n (requests), non2xx, dur (seconds) and cpu (µs a request,
	# of the target's processes).
	run() {
		local names u k
		case $1 in
		bare) names=(bare) ;;
		two) names=(one two) ;;
		slowtwo) names=(slow1 slow2) ;;
		*) names=("$1") ;;
		esac
		k=${2:-$key}
		local before=0 after=0 p ws=()
		for name in "${names[@]}"; do
			p=${name}_pid
			before=$((before + $(cpu_ticks "${!p}")))
		done
		for name in "${names[@]}"; do
			u=${name}_url
			wrk -t1 -c$((32 / ${#names[@]})) -d"${secs}s" --latency -H "Authorization: Bearer $k" "${!u}/v1/auth/whoami" >"$work/$name.wrk" &
			ws+=("$!")
		done
		wait "${ws[@]}"
		for name in "${names[@]}"; do
			p=${name}_pid
			after=$((after + $(cpu_ticks "${!p}")))
		done
		rps=0 n=0 non2xx=0 dur=0
		for name in "${names[@]}"; do
			rps=$(awk -v a="$rps" '/^Requests\/sec/ {print a + $2}' "$work/$name.wrk")
			n=$((n + $(awk '/requests in/ {print $1}' "$work/$name.wrk")))
			non2xx=$((non2xx + $(awk '/Non-2xx/ {print $5} END {print 0}' "$work/$name.wrk" | head -1)))
			dur=$(awk -v a="$dur" '/requests in/ {d = $4; sub(/s,$/, "", d); print (d > a ? d : a)}' "$work/$name.wrk")
		done
		cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.1f", t / hz / n * 1e6}')
		p99=$(awk '$1=="99%" {print $2}' "$work/${names[0]}.wrk")
	}
	printf 'machine: %s cores, %s; load average %s\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "targets: bare (the same bytes, no pihu); solo (no Redis); one (Redis, leased limits); exact (Redis, --exact-limits);"
	echo "         two (two instances on Redis); slow, slowtwo (one and two instances on Redis ${REDIS_DELAY:-1ms} away)"
	printf '%-6s %-8s %10s %9s %12s\n' round target "req/s" p99 "cpu/req µs"
	targets="bare solo one exact two slow1 slowtwo"
	declare -A sum_rps sum_cpu
	over=0
	for r in $(seq 1 "$rounds"); do
		for target in $targets; do
			run "$target"
			printf '%-6s %-8s %10s %9s %12s\n' "$r" "${target/slow1/slow}" "$rps" "$p99" "$cpu"
			sum_rps[$target]=$(awk -v a="${sum_rps[$target]:-0}" -v b="$rps" 'BEGIN {print a + b}')
			sum_cpu[$target]=$(awk -v a="${sum_cpu[$target]:-0}" -v b="$cpu" 'BEGIN {print a + b}')
		done
		# A key at $limit hammered on two instances, on Redis and on the
		# slow Redis: the admitted requests (2xx) against the bound of
		# docs/rate-limits.md, burst + duration / interval (+1 for the
		# duration's rounding).
		for pair in two slowtwo; do
			where=Redis
			[ "$pair" = slowtwo ] && where="the slow Redis"
			created=$(curl -s -X POST "$one_url/v1/auth/api-keys" -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
				-d "{\"name\":\"bench limit $r $pair\",\"permissions\":[\"candidate:read\"],\"rate_limit\":\"$limit\"}")
			limited=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' <<<"$created")
			[ -n "$limited" ] || { echo "creating the limited key: $created" >&2; exit 1; }
			run "$pair" "$limited"
			bound=$(awk -v l="$limit" -v d="$dur" 'BEGIN {
				split(l, a, "/"); n = a[1]; p = (a[2] == "s" ? 1 : a[2] == "m" ? 60 : 3600)
				b = n + int(d * n / p) + 1; print b }')
			admitted=$((n - non2xx))
			verdict=ok
			[ "$admitted" -le "$bound" ] || { verdict=OVER; over=$((over + 1)); }
			printf '%-6s %-8s %s on two instances on %s for %ss: %d admitted of %d, bound %d: %s\n' "$r" limit "$limit" "$where" "$dur" "$admitted" "$n" "$bound" "$verdict"
		done
	done
	awk -v s="${sum_rps[solo]}" -v o="${sum_rps[one]}" -v e="${sum_rps[exact]}" -v t="${sum_rps[two]}" \
		-v sl="${sum_rps[slow1]}" -v st="${sum_rps[slowtwo]}" \
		-v bc="${sum_cpu[bare]}" -v sc="${sum_cpu[solo]}" -v oc="${sum_cpu[one]}" -v ec="${sum_cpu[exact]}" -v slc="${sum_cpu[slow1]}" 'BEGIN {
		printf "req/s against solo (means of the rounds): one %.2f, exact %.2f, two %.2f, slow %.2f, slowtwo %.2f\n", o / s, e / s, t / s, sl / s, st / s
		printf "cpu per request against bare: solo %.2f, one %.2f, exact %.2f, slow %.2f\n", sc / bc, oc / bc, ec / bc, slc / bc
	}'
	[ "$over" = 0 ] || { echo "$over limit runs admitted more than the bound" >&2; exit 1; }
	;;
gateway)
	for tool in wrk nginx; do
		command -v "$tool" >/dev/null || {
			echo "$tool is missing: install it with 'apt-get install -y $tool' (nginx: the Debian package nginx-light)" >&2
			exit 1
		}
	done
	rounds=${2:-3}
	secs=${3:-5}
	conns=${CONNS:-32}
	PIHU_ARGS="${PIHU_ARGS:-} --trusted-proxy-header X-Forwarded-For --trusted-proxies 127.0.0.1" start_pihu "$work/pihu.db"
	key=$(cat "$work/pihu.db.owner-key")
	pihu_pid=$pid
	# bare_server NAME PATH: a bare server answering pihu's 200 to GET PATH
	# (headers and body), on a free port; sets bare_pid and bare_addr.
	bare_server() {
		"$work/pihubench" bare -from "$url" -key "$key" -path "$2" >"$work/$1.addr" &
		bare_pid=$!
		pids+=("$bare_pid")
		for _ in $(seq 1 100); do [ -s "$work/$1.addr" ] && break; sleep 0.1; done
		bare_addr=$(cat "$work/$1.addr")
	}
	need="permission=interview:read"
	bare_server upstream /v1/auth/whoami
	upstream=$bare_addr upstream_pid=$bare_pid
	# The bare auth server answers what the forward-auth endpoint answers
	# nginx's question, X-Pihu-* headers included.
	bare_server authbare "/v1/auth/forward?auth_request=1&$need"
	authbare=$bare_addr authbare_pid=$bare_pid
	# docs/gateways.md's nginx config, as the gateway tests run it.
	site=$(awk '/<!-- gateway-config: nginx -->/ {on=1; getline; next} on && /^```/ {exit} on' docs/gateways.md)
	# start_nginx NAME PORT SITE: one nginx process, one worker.
	start_nginx() {
		set -- "nginx-$1" "$2" "$3"
		mkdir -p "$work/$1"
		printf '%s\n' "$3" >"$work/$1/site.conf"
		cat >"$work/$1/nginx.conf" <<-EOF
			daemon off;
			master_process off;
			worker_processes 1;
			pid $work/$1/nginx.pid;
			error_log $work/$1/error.log warn;
			events { worker_connections 1024; }
			http {
			    access_log off;
			    client_body_temp_path $work/$1/body;
			    proxy_temp_path $work/$1/proxy;
			    fastcgi_temp_path $work/$1/fastcgi;
			    uwsgi_temp_path $work/$1/uwsgi;
			    scgi_temp_path $work/$1/scgi;
			    include $work/$1/site.conf;
			}
		EOF
		nginx -p "$work/$1" -e "$work/$1/error.log" -c "$work/$1/nginx.conf" &
		nginx_pid=$!
		pids+=("$nginx_pid")
		for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$2/status" && return 0; sleep 0.05; done
		echo "nginx $1 did not start:" >&2
		cat "$work/$1/error.log" >&2
		exit 1
	}
	read -r p_alone p_bare p_pihu <<<"$("$work/pihubench" freeports 3)"
	start_nginx alone "$p_alone" "server { listen 127.0.0.1:$p_alone; location / { proxy_pass http://$upstream; } }"
	alone_pid=$nginx_pid
	configure() { sed -e "s/127.0.0.1:8080/$1/; s/127.0.0.1:3000/$upstream/g; s/listen 8443;/listen 127.0.0.1:$2;/" <<<"$site"; }
	start_nginx authbare "$p_bare" "$(configure "$authbare" "$p_bare")"
	bare_nginx_pid=$nginx_pid
	start_nginx pihu "$p_pihu" "$(configure "${url#http://}" "$p_pihu")"
	pihu_nginx_pid=$nginx_pid
	path=/v1/interviews/intv_1
	for target in authbare pihu; do
		p=$p_bare
		[ "$target" = pihu ] && p=$p_pihu
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "http://127.0.0.1:$p$path")
		[ "$code" = 200 ] || { echo "nginx auth_request to $target: $code, not 200" >&2; exit 1; }
	done
	hz=$(getconf CLK_TCK)
	printf 'machine: %s cores, %s; load average %s\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-6s %-9s %10s %9s %9s %12s %12s\n' round target "req/s" p50 p99 "nginx µs/req" "auth µs/req"
	declare -A sum_rps
	for r in $(seq 1 "$rounds"); do
		for target in alone authbare pihu; do
			case $target in
			alone) p=$p_alone np=$alone_pid ap= ;;
			authbare) p=$p_bare np=$bare_nginx_pid ap=$authbare_pid ;;
			pihu) p=$p_pihu np=$pihu_nginx_pid ap=$pihu_pid ;;
			esac
			n0=$(cpu_ticks "$np")
			a0=0
			[ -n "$ap" ] && a0=$(cpu_ticks "$ap")
			out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $key" "http://127.0.0.1:$p$path")
			n1=$(cpu_ticks "$np")
			a1=0
			[ -n "$ap" ] && a1=$(cpu_ticks "$ap")
			rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
			n=$(awk '/requests in/ {print $1}' <<<"$out")
			non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
			[ -z "$non2xx" ] || { echo "$target: $non2xx answers that were not 2xx" >&2; exit 1; }
			p50=$(awk '$1=="50%" {print $2}' <<<"$out")
			p99=$(awk '$1=="99%" {print $2}' <<<"$out")
			ncpu=$(awk -v t=$((n1 - n0)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.1f", t / hz / n * 1e6}')
			acpu=$(awk -v t=$((a1 - a0)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.1f", t / hz / n * 1e6}')
			printf '%-6s %-9s %10s %9s %9s %12s %12s\n' "$r" "$target" "$rps" "$p50" "$p99" "$ncpu" "$acpu"
			sum_rps[$target]=$(awk -v a="${sum_rps[$target]:-0}" -v b="$rps" 'BEGIN {print a + b}')
		done
	done
	awk -v a="${sum_rps[alone]}" -v b="${sum_rps[authbare]}" -v p="${sum_rps[pihu]}" 'BEGIN {
		printf "ratios (means of the rounds): auth_request to the bare server / nginx alone %.2f; to pihu / to the bare server %.2f\n", b / a, p / b
	}'
	;;
profile)
	command -v wrk >/dev/null || {
		echo "wrk is missing: install it with 'apt-get install -y wrk' (Debian package wrk)" >&2
		exit 1
	}
	secs=${2:-10}
	dir=${3:-bench-profiles}
	mkdir -p "$dir"
	PIHU_ARGS="${PIHU_ARGS:-} --pprof 127.0.0.1:0" start_pihu "$work/pihu.db"
	pprof=$(sed -n 's/.*pprof_addr=\([^ ]*\).*/\1/p' "$work/pihu.log" | head -1)
	key=$(cat "$work/pihu.db.owner-key")
	"$work/pihubench" bare -from "$url" -key "$key" -pprof 127.0.0.1:0 >"$work/bare.addr" 2>"$work/bare.log" &
	pids+=("$!")
	for _ in $(seq 1 100); do [ -s "$work/bare.addr" ] && grep -q pprof_addr "$work/bare.log" && break; sleep 0.1; done
	bare_url="http://$(cat "$work/bare.addr")"
	bare_pprof=$(sed -n 's/pprof_addr=//p' "$work/bare.log")
	printf 'machine: %s cores, %s; load average %s\n' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	for target in bare healthz whoami; do
		case $target in
		bare) u=$bare_url/v1/auth/whoami pp=$bare_pprof hdr=(-H "Authorization: Bearer $key") ;;
		healthz) u=$url/healthz pp=$pprof hdr=() ;;
		whoami) u=$url/v1/auth/whoami pp=$pprof hdr=(-H "Authorization: Bearer $key") ;;
		esac
		wrk -t1 -c32 -d"$((secs + 2))s" "${hdr[@]}" "$u" >"$work/$target.wrk" &
		w=$!
		sleep 1
		curl -s -o "$dir/$target.pprof" "http://$pp/debug/pprof/profile?seconds=$secs"
		wait "$w"
		printf '%-8s %s req/s -> %s/%s.pprof\n' "$target" "$(awk '/^Requests\/sec/ {print $2}' "$work/$target.wrk")" "$dir" "$target"
	done
	;;
*)
	echo "usage: bench/run.sh warm|cold|create|startup|instances|gateway|profile" >&2
	exit 2
	;;
esac
