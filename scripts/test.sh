#!/usr/bin/env bash
# Runs every test of the solution. The tests start their own redis-server processes on free
# loopback ports, so the redis-server binary must be installed, and the console's browser tests need
# Debian's chromium: this installs both when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null; then
  echo "redis-server is missing: installing the Debian package…"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; fi
fi
# The console's browser tests drive Debian's chromium through Playwright (which cannot download its own browsers here).
if [ ! -x /usr/lib/chromium/chromium ] && [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM_PATH:-}" ]; then
  echo "chromium is missing: installing the Debian package…"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
fi
# NOTE: a Debian install starts a redis service on 6379; the tests never use it (own ports).
# NOTE: with set -e and pipefail, a failing run (or a grep that finds no count) would end the script before
# the summary line: from here on the status is captured and returned at the end.
set +e +o pipefail
dotnet test TokenGateway.sln -c Release "$@" 2>&1 | tee .test-output.log
status=${PIPESTATUS[0]}
passed=$(grep -oE 'Passed: +[0-9]+' .test-output.log | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' .test-output.log | awk '{s+=$2} END {print s+0}')
rm -f .test-output.log
echo "tests: $passed passed, $failed failed"
exit "$status"
