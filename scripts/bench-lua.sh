#!/usr/bin/env bash
# Redis-side cost of the hot path's two scripts, without the gateway: N reserve+settle pairs (the proxy benchmark's
# request: gpt-4o-mini, 40 + 12 tokens) sent by redis-cli to a redis-server of its own on a free loopback port. The
# scripts are taken from a git revision or a directory holding src/ (default: the working tree), so versions compare in
# one sitting:   scripts/bench-lua.sh [-n 2000] [-l all|typical] [-p|-c] [REV|DIR ...]
# Default: one account (-l sets rate limits like the proxy benchmark's --rate-limits); redis-server's CPU per pair
# (/proc utime+stime), EVALSHA's time per call and the commands per pair (INFO commandstats). A shared 2-core machine
# moves these by ±20 % between runs: interleave revisions and repeat.
# -p (paired): what the typical rate limits cost, robust to that noise. Two accounts, one without limits and one with the
# typical three, take turns request by request (the order alternating, since the second of two like calls finds warmer
# caches); SLOWLOG (threshold 0) gives each call's own time, and the medians per script and account are compared.
# -c (callgrind): the same two accounts (none, typical), each script's N calls counted in redis-server's instructions
# under valgrind's callgrind (apt-get install -y valgrind): the same from run to run within about ±3k a call (Lua's
# garbage collector), where time on a shared VM is not. KEEP=PREFIX keeps each profile for callgrind_annotate.
# Measured reasons for the scripts' shape are in docs/benchmarks/proxy.md.
set -euo pipefail
n=2000 limits="" paired="" grind=""
while getopts "n:l:pc" o; do case $o in n) n=$OPTARG;; l) limits=$OPTARG;; p) paired=1;; c) grind=1;; *) exit 2;; esac; done
shift $((OPTIND - 1))
revs=("${@:-WORKTREE}")
root=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ -n "$grind" ]; then
  # Under callgrind (valgrind): instructions executed are the same run after run, where time on a shared VM is not.
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null 2>"$work/valgrind.log" &
  echo $! > "$work/redis.pid"
else
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --pidfile "$work/redis.pid" --dir "$work" >/dev/null
fi
trap 'kill "$(cat "$work/redis.pid")" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 300); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
rpid=$(cat "$work/redis.pid")
cli() { redis-cli -p "$port" "$@"; }
script() { # revision or directory, name: ratelimit.lua + prelude.lua + the script, as BillingScripts.Load joins them
  for f in ratelimit prelude "$2"; do
    if [ "$1" = WORKTREE ]; then cat "$root/src/TokenGateway/Billing/Scripts/$f.lua"
    elif [ -d "$1" ]; then cat "$1/src/TokenGateway/Billing/Scripts/$f.lua"
    else git -C "$root" show "$1:src/TokenGateway/Billing/Scripts/$f.lua"; fi
    echo
  done
}
cpu() { awk '{print $14 + $15}' "/proc/$rpid/stat"; }
json='{"rpm":1000000000,"tpm":1000000000000,"rpd":1000000000,"max_in_flight":100000,"models":{"gpt-4o-mini":{"rpm":1000000000,"tpm":1000000000000}}}'
compact='1000000000 1000000000000 1000000000 100000 gpt-4o-mini=1000000000,1000000000000'
stored() { # a limit set as redis-cli reads it quoted: as given, or (when $packed) with the four limits packed after a 0 byte
  python3 -c 'import struct, sys
t = sys.argv[1]
b = t.encode() + (b"\0" + struct.pack("<dddd", *map(float, t.split()[:4])) if sys.argv[2] else b"")
print("\"" + "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else "\\x%02x" % c for c in b) + "\"")' "$1" "$packed"
}
account() { # revision, account id, limits: a funded account and its key
  local a="{acct:$2}"
  cli HSET "$a" balance 100000000000 >/dev/null
  cli HSET "$a:grants" g1 100000000000 >/dev/null
  cli ZADD "$a:grant_order" 4102444800000 g1 >/dev/null
  cli HSET "$a:key:k1" sha s1 status active project default >/dev/null
  # The limits in the revision's stored form: compact since ratelimit.lua has rl_parse, JSON before.
  # NOTE: matched in a variable, not by `| grep -q`: grep's early exit fails the pipe under pipefail.
  local lua; lua=$(script "$1" ratelimit)
  if [[ $lua == *rl_parse* ]]; then all=$compact typical_k='1000000000 1000000000000 0 0' typical_a='0 1000000000000 0 0'
  else all=$json typical_k='{"rpm":1000000000,"tpm":1000000000000}' typical_a='{"tpm":1000000000000}'; fi
  if [[ $lua == *"unpack_bytes('<dddd'"* ]]; then packed=1; else packed=""; fi
  case $3 in
    all) echo "HSET $a rl:k:k1 $(stored "$all") rl:a $(stored "$all")" | cli >/dev/null ;;
    typical) echo "HSET $a rl:k:k1 $(stored "$typical_k") rl:a $(stored "$typical_a")" | cli >/dev/null ;;
  esac
}
call() { # reserve|settle, account id, request number
  local a="{acct:$2}" t=$((1795400000000 + $3 * 10))
  local keys="$a $a:holds $a:hold_exp $a:grant_order $a:grants $a:ledger $a:outbox $a:outbox_due"
  if [ "$1" = reserve ]; then
    echo "EVALSHA $reserve 9 $keys $a:key:k1 s1 $t req$3 gpt-4o-mini 202611 k1 6 600000 64 1 1 16 0 900000 1000000 60"
  else
    echo "EVALSHA $settle 13 $keys $a:settled:req$3 $a:usage:20261123 $a:key:k1 $a:usage_h:2026112305 $a:usage_m:202611230530 req$3 $t 14 202611 k1 gpt-4o-mini 31536000000 31536000000 86400000 1800000 3024000000 172800000 5000000 52 3 input_tokens 40 output_tokens 12 service_tier default input_tokens 40 cached_tokens 0 output_tokens 12 li:input 6000000 li:output 7200000"
  fi
}
for rev in "${revs[@]}"; do
  cli flushall >/dev/null
  reserve=$(cli SCRIPT LOAD "$(script "$rev" reserve)")
  settle=$(cli SCRIPT LOAD "$(script "$rev" settle)")
  if [ -n "$grind" ]; then
    for x in none typical; do
      account "$rev" "$x" "$([ $x = none ] || echo typical)"
      for i in $(seq 1 20); do call reserve "$x" "$i"; call settle "$x" "$i"; done | cli >/dev/null
      for s in reserve settle; do
        for i in $(seq 21 $((20 + n))); do call $s "$x" "$i"; done > "$work/$s"
      done
      for s in reserve settle; do
        rm -f "$work"/cg.out*
        callgrind_control -z "$rpid" >/dev/null 2>&1
        cli < "$work/$s" > "$work/replies"
        callgrind_control -d "$rpid" >/dev/null 2>&1
        [ -z "${KEEP:-}" ] || cat "$work"/cg.out.* > "$KEEP.$s.$x"
        errors=$(grep -c ERR "$work/replies" || true)
        ir=$(cat "$work"/cg.out* | sed -n 's/^summary: \([0-9]*\).*/\1/p;' | awk '{s += $1} END {print s}')
        eval "ir_${s}_$x=$ir"
        [ "$errors" = 0 ] || echo "$rev: $errors errors ($s, $x)"
      done
    done
    echo "$rev: instructions a call: reserve $((ir_reserve_none / n)) / typical $((ir_reserve_typical / n)), settle $((ir_settle_none / n)) / typical $((ir_settle_typical / n)); the typical limits cost $(((ir_reserve_typical - ir_reserve_none) / n)) a reserve, $(((ir_settle_typical - ir_settle_none) / n)) a settle"
    continue
  fi
  if [ -n "$paired" ]; then
    account "$rev" none ""
    account "$rev" typical typical
    for i in $(seq 1 "$n"); do
      if [ $((i % 2)) = 0 ]; then order="none typical"; else order="typical none"; fi
      for s in reserve settle; do for x in $order; do call $s "$x" "$i"; done; done
    done > "$work/commands"
    cli config set slowlog-log-slower-than 0 >/dev/null
    cli config set slowlog-max-len $((n * 4 + 10)) >/dev/null
    cli slowlog reset >/dev/null
    cli < "$work/commands" > "$work/replies"
    errors=$(grep -c ERR "$work/replies" || true)
    cli --json slowlog get $((n * 4 + 10)) | python3 -c '
import json, statistics, sys
reserve, rev, errors = sys.argv[1:]
calls = {}
for _, _, us, args, *rest in json.load(sys.stdin):
    if args and args[0].upper() == "EVALSHA":
        calls.setdefault(("reserve" if args[1] == reserve else "settle") + " " + args[3].split(":")[1][:-1], []).append(us)
# SLOWLOG counts whole µs: a mean of the middle half resolves what a median cannot, and outliers do not move it.
def mid(v):
    v = sorted(v)
    return statistics.mean(v[len(v) // 4: len(v) - len(v) // 4])
m = {k: mid(v) for k, v in calls.items()}
r0, r1, s0, s1 = m["reserve none"], m["reserve typical"], m["settle none"], m["settle typical"]
print(f"{rev}: µs a call (mean of the middle half): reserve {r0:.1f} / typical {r1:.1f}, settle {s0:.1f} / typical {s1:.1f}; "
      f"the typical limits cost {r1 - r0:+.1f} µs a reserve, {s1 - s0:+.1f} a settle; errors {errors}")' "$reserve" "$rev" "$errors"
    continue
  fi
  account "$rev" b "$limits"
  for i in $(seq 1 "$n"); do call reserve b "$i"; call settle b "$i"; done > "$work/commands"
  cli config resetstat >/dev/null
  before=$(cpu)
  cli < "$work/commands" > "$work/replies"
  after=$(cpu)
  errors=$(grep -c ERR "$work/replies" || true)
  stats=$(cli info commandstats | tr -d '\r')
  evalsha=$(echo "$stats" | sed -n 's/^cmdstat_evalsha:.*usec_per_call=\([0-9.]*\).*/\1/p')
  commands=$(echo "$stats" | sed -n 's/^cmdstat_\([a-z]*\):calls=\([0-9]*\),.*/\1 \2/p' | awk -v n="$n" '$1 != "config" && $1 != "info" {s += $2} END {printf "%.1f", s / n}')
  echo "$rev: redis CPU $(( (after - before) * 10000 / n )) µs per reserve+settle, EVALSHA ${evalsha} µs per call, ${commands} commands per pair, limits ${limits:-none}, errors $errors"
done
