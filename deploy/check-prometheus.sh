#!/usr/bin/env bash
# Evaluates every PromQL query of the Grafana dashboard against a real Prometheus that scrapes a real
# gateway, and fails unless each query returns data (at least one sample that is not NaN).
#
#   deploy/check-prometheus.sh [PUBLISHED_GATEWAY_DIR]
#
# Starts, all on loopback and on free ports: redis-server, the mock upstream, the gateway (the given
# `dotnet publish` output, or a fresh publish), and Prometheus (Debian package `prometheus`, installed
# when missing) scraping /metrics every second. Then drives two rounds of traffic — completions,
# a stream, embeddings, a 429, an invalid key, bad requests, an unpriced model, an upstream error, a
# client that hangs up, and in between a Redis outage (billing_unavailable, Redis errors) — so every
# counter and histogram has increased between scrapes. Bounded in time; everything it started is
# stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TG_CHECK_BOUNDED:-}" ]; then
  # NOTE: one bound for the whole check (publish included), whatever step hangs.
  TG_CHECK_BOUNDED=1 exec timeout --kill-after=15 900 bash "$0" "$@"
fi

work=$(mktemp -d)
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" != 0 ] && [ -d "$work" ]; then
    for log in "$work"/*.log; do echo "--- $(basename "$log") (last lines)"; tail -n 20 "$log"; done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 124' TERM INT

say() { echo "check-prometheus: $*"; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_http() { # URL SECONDS
  for _ in $(seq $((${2} * 10))); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "check-prometheus: $1 did not answer within $2 s" >&2; return 1
}

install_missing() { # COMMAND PACKAGE
  command -v "$1" >/dev/null && return 0
  say "$1 is missing: installing the Debian package $2"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  # NOTE: a policy-rc.d that exits 101 keeps the package's own service from starting (this check runs its
  # own process); only one this function created is removed again.
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy"
  fi
  local status=0
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null || status=$?
  [ -z "$policy" ] || $sudo rm -f "$policy"
  return "$status"
}
install_missing prometheus prometheus
install_missing redis-server redis-server

app=${1:-}
if [ -z "$app" ]; then
  say "publishing the gateway"
  app="$work/app"
  dotnet publish src/TokenGateway/TokenGateway.csproj -c Release -o "$app" /p:UseAppHost=false -v q --nologo >/dev/null
fi
say "building the mock upstream"
dotnet build src/TokenGateway.MockUpstream -c Release -o "$work/mock" -v q --nologo >/dev/null

redis_port=$(free_port); mock_port=$(free_port); gw_port=$(free_port); prom_port=$(free_port)
mkdir -p "$work/redis"
start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work/redis" >>"$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  echo "check-prometheus: redis-server did not start" >&2; return 1
}
start_redis

dotnet "$work/mock/TokenGateway.MockUpstream.dll" --urls "http://127.0.0.1:$mock_port" >"$work/mock.log" 2>&1 &
pids+=($!)

admin_token=check-prometheus-admin-token
TokenGateway__Redis__Configuration="127.0.0.1:$redis_port,abortConnect=false" \
TokenGateway__Upstream__BaseUrl="http://127.0.0.1:$mock_port" \
TokenGateway__Upstream__ApiKey=sk-mock \
TokenGateway__Admin__Token=$admin_token \
TokenGateway__Telemetry__BalanceRefreshSeconds=1 \
TokenGateway__Billing__SettleJournal__Directory="$work/settles" \
ASPNETCORE_URLS="http://127.0.0.1:$gw_port" \
  dotnet "$app/TokenGateway.dll" >"$work/gateway.log" 2>&1 &
pids+=($!)
gw="http://127.0.0.1:$gw_port"
wait_http "http://127.0.0.1:$mock_port/v1/models" 60
wait_http "$gw/readyz" 60

cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tokengateway
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:$gw_port"]
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
pids+=($!)
prom="http://127.0.0.1:$prom_port"
wait_http "$prom/-/ready" 60
say "redis :$redis_port, mock upstream :$mock_port, gateway :$gw_port, prometheus :$prom_port"

admin() { curl -fsS -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' "$@"; }
# Prints the HTTP status of a metered call: KEY PATH JSON [extra curl arguments].
call() {
  local key=$1 path=$2 body=$3; shift 3
  curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' "$@" -d "$body" "$gw$path" || true
}
expect() { # STATUS ACTUAL WHAT
  [ "$1" = "$2" ] || { echo "check-prometheus: $3: expected HTTP $1, got $2" >&2; exit 1; }
}
new_key() { # ACCOUNT USD
  admin -X POST "$gw/admin/accounts" -d "{\"id\":\"$1\",\"name\":\"Team $1\"}" >/dev/null
  [ "$2" = 0 ] || admin -X POST "$gw/admin/accounts/$1/credits" -H "Idempotency-Key: seed-$1" -d "{\"amount_usd\": $2}" >/dev/null
  admin -X POST "$gw/admin/accounts/$1/keys" -d '{"name":"check"}' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).key))'
}
search=$(new_key search 20); support=$(new_key support 20); empty=$(new_key empty 0); limited=$(new_key limited 20)
# One request a minute for team "limited": its second request of a round is rate limited (rate_limited).
admin -X PUT "$gw/admin/accounts/limited/rate-limits" -d '{"rpm":1}' >/dev/null

chat='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello there"}]}'
traffic() {
  expect 200 "$(call "$search" /v1/chat/completions "$chat")" "chat completion"
  expect 200 "$(call "$support" /v1/responses '{"model":"gpt-4o","input":"Write a haiku"}')" "responses"
  expect 200 "$(call "$support" /v1/embeddings '{"model":"text-embedding-3-small","input":"hello"}')" "embeddings"
  expect 200 "$(call "$search" /v1/chat/completions '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}')" "stream"
  expect 429 "$(call "$empty" /v1/chat/completions "$chat")" "empty balance"
  call "$limited" /v1/chat/completions "$chat" >/dev/null
  expect 429 "$(call "$limited" /v1/chat/completions "$chat")" "rate limit"
  expect 401 "$(call tg-not-a-key /v1/chat/completions "$chat")" "invalid key"
  expect 400 "$(call "$search" /v1/chat/completions '{not json')" "malformed body"
  expect 400 "$(call "$search" /v1/chat/completions '{"model":"no-such-model","messages":[]}')" "unpriced model"
  expect 500 "$(call "$support" /v1/chat/completions "$chat" -H 'x-mock-status: 500')" "upstream error"
  # A client that hangs up before the (delayed) answer: client_disconnected.
  call "$search" /v1/chat/completions '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}' \
    -H 'x-mock-delay-ms: 3000' --max-time 0.5 >/dev/null 2>&1
}

say "traffic, round 1"
traffic
sleep 3

say "Redis outage: requests get 503 billing_unavailable"
redis-cli -p "$redis_port" save >/dev/null
redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
sleep 1.5
expect 503 "$(call "$search" /v1/chat/completions "$chat")" "request during the Redis outage"
start_redis
wait_http "$gw/readyz" 30
sleep 2

say "traffic, round 2"
traffic
sleep 4

say "evaluating the dashboard's queries"
node deploy/validate-dashboard.mjs --list-queries --resolve >"$work/queries.txt"
PROM="$prom" node --input-type=module - "$work/queries.txt" <<'EOF'
import { readFileSync } from "node:fs";
const queries = readFileSync(process.argv[2], "utf8").split("\n").filter((q) => q.trim());
let failed = 0;
for (const query of queries) {
  const res = await fetch(`${process.env.PROM}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = await res.json();
  const result = body.status === "success" ? body.data.result : [];
  const values = result.map((r) => Number(r.value[1]));
  const ok = values.some((v) => !Number.isNaN(v));
  if (!ok) failed++;
  const shown = values.slice(0, 3).map((v) => +v.toPrecision(4)).join(", ");
  console.log(`${ok ? "ok  " : "FAIL"} ${result.length} series [${shown}${values.length > 3 ? ", …" : ""}]  ${query}`
    + (body.status === "success" ? "" : `  (${body.errorType}: ${body.error})`));
}
console.log(`check-prometheus: ${queries.length - failed}/${queries.length} dashboard queries returned data`);
process.exit(failed === 0 ? 0 : 1);
EOF
