#!/usr/bin/env bash
# `make cluster-test`: Moim as a small cluster on one machine, each "host" a network
# namespace with its own address, then deploy/cluster/driver.py runs the fault scenarios
# and prints the figures docs/scaling.md quotes.
#
#   mcl-net     the switch: a bridge in a namespace of its own (the machine's own
#               namespace, routes and firewall are never touched)
#   mcl-lb      10.77.0.10  HAProxy: one address for HTTP and WebSockets
#   mcl-app1..3 10.77.0.11-13  uvicorn, production settings (runtime-only .venv-prod)
#   mcl-redis1  10.77.0.21  Redis: cache, Celery broker, channel-layer shard 0
#   mcl-redis2  10.77.0.22  Redis: channel-layer shard 1
#   mcl-pg1     10.77.0.31  PostgreSQL primary (its own cluster, initdb in a temp dir)
#   mcl-pg2     10.77.0.32  PostgreSQL streaming replica (pg_basebackup of the primary)
#   mcl-worker  10.77.0.41  Celery worker: media into S3
#   mcl-s3      10.77.0.51  S3-compatible storage (moto's server, as in .ci/smoke)
#   mcl-client  10.77.0.100 the driver (the clients)
#
# Needs root (namespaces, veth, running PostgreSQL as the postgres user), haproxy,
# redis-server, PostgreSQL's server binaries, ffmpeg. Everything it starts lives in those
# namespaces and a temp dir, and is removed on exit, failure included; a leftover of an
# earlier run is removed first. Any failure exits non-zero with the failing host's log.
set -euo pipefail
cd "$(dirname "$0")/../.."

PROD_VENV="${PROD_VENV:-.venv-prod}"
DEV_VENV="${VENV:-.venv}"
PROD_PY="$PROD_VENV/bin/python"
NET=10.77.0
APPS=(app1 app2 app3)
HOSTS=(lb app1 app2 app3 redis1 redis2 pg1 pg2 worker s3 client)
declare -A ADDR=(
  [lb]=$NET.10 [app1]=$NET.11 [app2]=$NET.12 [app3]=$NET.13 [redis1]=$NET.21 [redis2]=$NET.22
  [pg1]=$NET.31 [pg2]=$NET.32 [worker]=$NET.41 [s3]=$NET.51 [client]=$NET.100
)
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}"

[ "$(id -u)" -eq 0 ] || { echo "cluster: needs root (network namespaces)"; exit 1; }
[ -x "$PROD_PY" ] || { echo "cluster: $PROD_PY missing; run 'make cluster-test'"; exit 1; }
[ -x "$DEV_VENV/bin/moto_server" ] || { echo "cluster: $DEV_VENV/bin/moto_server missing"; exit 1; }
[ -x "$PG_BIN/initdb" ] || { echo "cluster: PostgreSQL server binaries missing"; exit 1; }

WORK="$(mktemp -d -t moim-cluster.XXXXXX)"
chmod 755 "$WORK"
in_ns() { local host=$1; shift; ip netns exec "mcl-$host" "$@"; }

stop_host() {  # every process in the host's namespace, at once (a host that dies)
  local pids
  pids=$(ip netns pids "mcl-$1" 2>/dev/null || true)
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
}

teardown() {
  for host in "${HOSTS[@]}" net; do
    if ip netns list | grep -qw "mcl-$host"; then
      stop_host "$host"
      ip netns del "mcl-$host" 2>/dev/null || true
    fi
  done
}

FAILED_HOST=""
cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "cluster: FAILED (exit $status)${FAILED_HOST:+ on $FAILED_HOST}; logs follow"
    for log in "$WORK"/*.log; do
      [ -f "$log" ] || continue
      name=$(basename "$log" .log)
      # The failing host's log in full (last 200 lines), the others' tails.
      lines=40
      [ "$name" = "$FAILED_HOST" ] && lines=200
      echo "----- $name (last $lines lines)"
      tail -n "$lines" "$log"
    done
  fi
  teardown
  if [ -n "${CLUSTER_LOGS:-}" ]; then  # keep every host's log (passed or not)
    mkdir -p "$CLUSTER_LOGS" && cp "$WORK"/*.log "$CLUSTER_LOGS"/ 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== cluster: %s\n' "$*"; }

wait_for() {  # wait_for HOST SECONDS COMMAND...: until COMMAND succeeds or HOST (- for none) has no process left
  local host=$1 seconds=$2
  shift 2
  for _ in $(seq 1 $((seconds * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ "$host" != "-" ] && [ -z "$(ip netns pids "mcl-$host" 2>/dev/null)" ]; then
      FAILED_HOST=$host
      echo "cluster: $host exited"
      return 1
    fi
    sleep 0.25
  done
  FAILED_HOST=$host
  echo "cluster: $host did not come up within ${seconds}s"
  return 1
}

http_answers() {  # any HTTP status will do
  in_ns client "$PROD_PY" -c 'import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=3)
except urllib.error.HTTPError:
    pass' "$1"
}

# --- network -----------------------------------------------------------------------
step "network: namespaces mcl-* on $NET.0/24 behind one bridge"
teardown
ip netns add mcl-net
in_ns net ip link set lo up
in_ns net ip link add br0 type bridge
in_ns net ip link set br0 up
for host in "${HOSTS[@]}"; do
  ip netns add "mcl-$host"
  in_ns "$host" ip link set lo up
  ip link add "mcl-$host" type veth peer name eth0 netns "mcl-$host"
  ip link set "mcl-$host" netns mcl-net
  in_ns net ip link set "mcl-$host" master br0 up
  in_ns "$host" ip addr add "${ADDR[$host]}/24" dev eth0
  in_ns "$host" ip link set eth0 up
done

# --- data: PostgreSQL primary and replica, Redis ×2, S3 ----------------------------------
step "PostgreSQL primary ${ADDR[pg1]} and streaming replica ${ADDR[pg2]}"
mkdir -p "$WORK/pg1" "$WORK/pg2" "$WORK/pgsock1" "$WORK/pgsock2"
chown postgres: "$WORK/pg1" "$WORK/pg2" "$WORK/pgsock1" "$WORK/pgsock2"
chmod 700 "$WORK/pg1" "$WORK/pg2"
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pg1" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 >"$WORK/pg1.log" 2>&1
cat >>"$WORK/pg1/postgresql.conf" <<EOF
listen_addresses = '${ADDR[pg1]}'
unix_socket_directories = '$WORK/pgsock1'
wal_level = replica
max_wal_senders = 5
hot_standby = on
max_connections = 200
fsync = off
EOF
echo "host all,replication all $NET.0/24 trust" >>"$WORK/pg1/pg_hba.conf"
in_ns pg1 runuser -u postgres -- "$PG_BIN/postgres" -D "$WORK/pg1" >>"$WORK/pg1.log" 2>&1 &
wait_for pg1 30 in_ns client pg_isready -q -h "${ADDR[pg1]}" -U postgres
in_ns pg2 runuser -u postgres -- "$PG_BIN/pg_basebackup" -h "${ADDR[pg1]}" -U postgres \
  -D "$WORK/pg2" -R -X stream >"$WORK/pg2.log" 2>&1
sed -i "s/^listen_addresses = .*/listen_addresses = '${ADDR[pg2]}'/; s#^unix_socket_directories = .*#unix_socket_directories = '$WORK/pgsock2'#" \
  "$WORK/pg2/postgresql.conf"
in_ns pg2 runuser -u postgres -- "$PG_BIN/postgres" -D "$WORK/pg2" >>"$WORK/pg2.log" 2>&1 &
wait_for pg2 30 in_ns client pg_isready -q -h "${ADDR[pg2]}" -U postgres
in_ns client psql -q -h "${ADDR[pg1]}" -U postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE moim"

step "Redis ${ADDR[redis1]} (cache, broker, shard 0) and ${ADDR[redis2]} (shard 1); S3 ${ADDR[s3]}"
for host in redis1 redis2; do
  mkdir -p "$WORK/$host"
  in_ns "$host" redis-server --bind "${ADDR[$host]}" --port 6379 --protected-mode no \
    --save "" --appendonly no --dir "$WORK/$host" >"$WORK/$host.log" 2>&1 &
done
in_ns s3 "$DEV_VENV/bin/moto_server" -H "${ADDR[s3]}" -p 5000 >"$WORK/s3.log" 2>&1 &
for host in redis1 redis2; do
  wait_for "$host" 10 in_ns client redis-cli -h "${ADDR[$host]}" ping
done
wait_for s3 30 http_answers "http://${ADDR[s3]}:5000/moto-api/"

# --- the app -----------------------------------------------------------------------------
APP_HOSTS_CSV=$(IFS=,; echo "${ADDR[lb]},${ADDR[app1]},${ADDR[app2]},${ADDR[app3]}")
READ_PRIMARY_SECONDS=10
CLUSTER_ENV=(
  "PATH=$PATH" "HOME=$WORK" "LANG=C.UTF-8"
  "DEBUG=0"
  "SECRET_KEY=$("$PROD_PY" -c 'import secrets; print(secrets.token_urlsafe(50))')"
  "ALLOWED_HOSTS=$APP_HOSTS_CSV"
  "CSRF_TRUSTED_ORIGINS=https://${ADDR[lb]}"
  "SITE_URL=https://${ADDR[lb]}"
  "DATABASE_URL=postgres://postgres@${ADDR[pg1]}:5432/moim"
  "DATABASE_REPLICA_URL=postgres://postgres@${ADDR[pg2]}:5432/moim"
  "REDIS_URL=redis://${ADDR[redis1]}:6379/0"
  "CHANNEL_LAYER_REDIS_URLS=redis://${ADDR[redis1]}:6379/0,redis://${ADDR[redis2]}:6379/0"
  # The default layer (pubsub); CHANNEL_LAYER_BACKEND=core make cluster-test runs the other.
  "CHANNEL_LAYER_BACKEND=${CHANNEL_LAYER_BACKEND:-pubsub}"
  "MEDIA_ROOT=$WORK/media"
  "AWS_STORAGE_BUCKET_NAME=moim-cluster"
  "AWS_S3_ENDPOINT_URL=http://${ADDR[s3]}:5000"
  "AWS_S3_REGION_NAME=us-east-1"
  "AWS_ACCESS_KEY_ID=cluster"
  "AWS_SECRET_ACCESS_KEY=cluster"
  "DB_POOL_MAX=10"
  # The driver is told the same window (scenario 4 waits out the read-only member's).
  "DATABASE_REPLICA_READ_PRIMARY_SECONDS=$READ_PRIMARY_SECONDS"
  # The driver's nine clients sign up and chat faster than people do, all from one
  # address: per-person limits up, so the run measures the cluster, not the throttles.
  "THROTTLE_AUTH=10000/min" "THROTTLE_IP=100000/min" "THROTTLE_USER=100000/min"
  "THROTTLE_WRITES=10000/min" "THROTTLE_UPLOADS=10000/min"
  "CHAT_SEND_RATE_COUNT=10000" "CHAT_FRAME_RATE_COUNT=10000"
  "MODERATION_FLOOD_MESSAGES=10000"
  # Task limits short enough that a task whose worker host died is delivered again
  # within the scenario (acks_late: after the visibility timeout, which stays above the
  # hard limit so a running task is never delivered twice). Production keeps the
  # defaults (300 s soft, 330 s hard, 360 s visibility; README), which also stay above
  # the media task's longest retry back-off.
  "CELERY_TASK_SOFT_TIME_LIMIT=20" "CELERY_TASK_TIME_LIMIT=25"
  "CELERY_BROKER_VISIBILITY_TIMEOUT=30"
)
run_on() { local host=$1; shift; in_ns "$host" env -i "${CLUSTER_ENV[@]}" "$@"; }

step "bucket, translations, migrate (primary), collectstatic"
run_on client "$PROD_PY" -c 'import boto3, os; boto3.client("s3", endpoint_url=os.environ["AWS_S3_ENDPOINT_URL"]).create_bucket(Bucket=os.environ["AWS_STORAGE_BUCKET_NAME"])'
run_on client "$PROD_PY" manage.py compilemessages --ignore=".venv*" -v 0
run_on client "$PROD_PY" manage.py migrate --noinput -v 0
run_on client "$PROD_PY" manage.py collectstatic --noinput -v 0
run_on client "$PROD_PY" manage.py check --deploy --fail-level WARNING

# uvicorn listens on every address of its host (as README's production command): the
# balancer reaches it on the host's address, the host's own probes on loopback.
start_app() {
  local host=$1
  run_on "$host" "$PROD_VENV/bin/uvicorn" config.asgi:application --host 0.0.0.0 \
    --port 8000 --ws websockets-sansio --proxy-headers --forwarded-allow-ips "${ADDR[lb]}" \
    >>"$WORK/$host.log" 2>&1 &
}
start_worker() {
  run_on worker "$PROD_VENV/bin/celery" -A config worker -l info --concurrency 1 \
    --hostname "worker@mcl-worker" >>"$WORK/worker.log" 2>&1 &
}

step "app hosts ${APPS[*]} (uvicorn :8000), the worker host, HAProxy ${ADDR[lb]}:80"
for host in "${APPS[@]}"; do start_app "$host"; done
start_worker
# HAProxy: WebSockets pass through (HTTP/1.1 upgrade, long tunnel timeout). A host is in
# service while its process answers GET /livez (liveness, answered in front of Django:
# no backend checks, cheap under load). Not /healthz: its 503 means a backend every
# host shares is down, which must not take every host out at once (docs/operations.md).
# X-Moim-Pin lets the driver place a client on a given host (ignored once that host is
# down, so the balancer picks another); the response names the host that served it.
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout check 2s
    option http-server-close
    option redispatch
    retries 2
frontend moim
    bind ${ADDR[lb]}:80
    http-request set-header X-Forwarded-Proto https
    option forwardfor
    default_backend apps
backend apps
    balance roundrobin
    option httpchk
    http-check send meth GET uri /livez ver HTTP/1.1 hdr Host ${ADDR[lb]}
    http-check expect status 200
    default-server check inter 1s fall 2 rise 1
$(for host in "${APPS[@]}"; do
  echo "    use-server $host if { req.hdr(x-moim-pin) -m str $host }"
done)
$(for host in "${APPS[@]}"; do echo "    server $host ${ADDR[$host]}:8000"; done)
    http-response set-header X-Moim-Host %s
EOF
haproxy -c -q -f "$WORK/haproxy.cfg"
in_ns lb haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/lb.log" 2>&1 &
for host in "${APPS[@]}"; do
  wait_for "$host" 90 http_answers "http://${ADDR[$host]}:8000/healthz"
done
wait_for lb 30 http_answers "http://${ADDR[lb]}/healthz"
wait_for worker 90 run_on client "$PROD_VENV/bin/celery" -A config inspect ping \
  -d worker@mcl-worker -t 2

# --- the scenarios -------------------------------------------------------------------------
# The driver calls back into this script for faults: `cluster.sh fault ACTION HOST`.
cat >"$WORK/fault" <<EOF
#!/usr/bin/env bash
# Faults the driver injects (a host dies, a service stops or comes back), and a host's
# own health probe.
set -euo pipefail
$(declare -p ADDR CLUSTER_ENV)
PROD_VENV=$PROD_VENV PG_BIN=$PG_BIN WORK=$WORK
in_ns() { local host=\$1; shift; ip netns exec "mcl-\$host" "\$@"; }
case "\$1" in
  kill) pids=\$(ip netns pids "mcl-\$2" || true); [ -z "\$pids" ] || kill -9 \$pids ;;
  start-app)
    in_ns "\$2" env -i "\${CLUSTER_ENV[@]}" "\$PROD_VENV/bin/uvicorn" config.asgi:application \\
      --host 0.0.0.0 --port 8000 --ws websockets-sansio --proxy-headers \\
      --forwarded-allow-ips "\${ADDR[lb]}" >>"\$WORK/\$2.log" 2>&1 </dev/null & ;;
  start-worker)
    in_ns worker env -i "\${CLUSTER_ENV[@]}" "\$PROD_VENV/bin/celery" -A config worker -l info \\
      --concurrency 1 --hostname worker@mcl-worker >>"\$WORK/worker.log" 2>&1 </dev/null & ;;
  start-redis)
    in_ns "\$2" redis-server --bind "\${ADDR[\$2]}" --port 6379 --protected-mode no --save "" \\
      --appendonly no --dir "\$WORK/\$2" >>"\$WORK/\$2.log" 2>&1 </dev/null & ;;
  healthz)  # the host's own probe: /healthz on its loopback, which gets the details
    in_ns "\$2" "\$PROD_VENV/bin/python" - "\${ADDR[\$2]}" <<'PROBE' ;;
import json, sys, urllib.error, urllib.request
request = urllib.request.Request("http://127.0.0.1:8000/healthz", headers={"Host": sys.argv[1]})
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        status, body = response.status, response.read()
except urllib.error.HTTPError as error:
    status, body = error.code, error.read()
print(json.dumps({"status": status, "body": json.loads(body or b"null")}))
PROBE
  *) echo "unknown fault \$1"; exit 2 ;;
esac
EOF
chmod +x "$WORK/fault"

step "deploy/cluster/driver.py"
RESULTS="${CLUSTER_RESULTS:-$WORK/results.json}"
in_ns client env -i "PATH=$PATH" "LANG=C.UTF-8" "$PROD_PY" deploy/cluster/driver.py \
  --lb "http://${ADDR[lb]}" \
  $(for host in "${APPS[@]}"; do echo "--app $host=http://${ADDR[$host]}:8000"; done) \
  --fault "$WORK/fault" --replica "postgres://postgres@${ADDR[pg2]}:5432/moim" \
  --primary "postgres://postgres@${ADDR[pg1]}:5432/moim" \
  --redis "redis://${ADDR[redis1]}:6379/0" --redis "redis://${ADDR[redis2]}:6379/0" --results "$RESULTS" \
  --channel-layer "${CHANNEL_LAYER_BACKEND:-pubsub}" --read-primary-seconds "$READ_PRIMARY_SECONDS" \
  ${CLUSTER_DOC:+--doc "$CLUSTER_DOC"} ${CLUSTER_ARGS:-} || { FAILED_HOST=driver; exit 1; }
step "passed"
