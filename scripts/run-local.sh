#!/usr/bin/env bash
# Starts a working gateway on http://127.0.0.1:8080 against a local Redis (found on 6379, or started).
# Upstream: the real OpenAI API when OPENAI_API_KEY is set, otherwise the bundled mock upstream
# (deterministic usage), so the quickstart works offline.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run

if ! (command -v redis-cli >/dev/null && redis-cli -p 6379 ping 2>/dev/null | grep -q PONG); then
  if ! command -v redis-server >/dev/null; then
    echo "redis-server is missing: installing it (Debian package redis-server)…"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; fi
  fi
  mkdir -p .run/redis
  redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --appendonly yes --appendfsync everysec \
    --dir "$PWD/.run/redis" --logfile "$PWD/.run/redis/redis.log" --pidfile "$PWD/.run/redis/redis.pid"
  for _ in $(seq 50); do redis-cli -p 6379 ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  echo "Started redis-server on 127.0.0.1:6379 (data in .run/redis, stop with: redis-cli -p 6379 shutdown)"
else
  echo "Using the Redis already listening on 127.0.0.1:6379"
fi

export TokenGateway__Redis__Configuration="${TokenGateway__Redis__Configuration:-127.0.0.1:6379}"
export TokenGateway__Admin__Token="${TokenGateway__Admin__Token:-dev-admin-token-change-me}"
if [ -n "${OPENAI_API_KEY:-}" ]; then
  export TokenGateway__Upstream__ApiKey="${TokenGateway__Upstream__ApiKey:-$OPENAI_API_KEY}"
  echo "Upstream: ${TokenGateway__Upstream__BaseUrl:-https://api.openai.com}"
else
  dotnet build -c Release -v q --nologo src/TokenGateway.MockUpstream >/dev/null
  dotnet src/TokenGateway.MockUpstream/bin/Release/net10.0/TokenGateway.MockUpstream.dll --urls http://127.0.0.1:5081 > .run/mock-upstream.log 2>&1 &
  mock=$!
  trap 'kill $mock 2>/dev/null || true' EXIT
  export TokenGateway__Upstream__BaseUrl=http://127.0.0.1:5081
  export TokenGateway__Upstream__ApiKey=sk-mock
  echo "Upstream: the mock OpenAI upstream on 127.0.0.1:5081 (set OPENAI_API_KEY to use the real API)"
fi
echo "Admin token: $TokenGateway__Admin__Token"
echo "Gateway: http://127.0.0.1:8080  (OPENAI_BASE_URL=http://127.0.0.1:8080/v1)"
dotnet run -c Release --project src/TokenGateway -- --urls http://127.0.0.1:8080
