#!/usr/bin/env bash
# Checks that the committed src/TokenGateway/pricing.json is exactly what scripts/pricing/generate.mjs
# makes of the pinned @pydantic/genai-prices and scripts/pricing/overrides.json.
#   bash scripts/pricing/check.sh        (from anywhere; needs node and npm)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
committed="$repo/src/TokenGateway/pricing.json"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

version="$(node -p 'require(process.argv[1]).dependencies["@pydantic/genai-prices"]' "$here/package.json")"

if ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >"$work/npm.log" 2>&1; then
  cat "$work/npm.log" >&2
  echo "check.sh: npm ci failed in scripts/pricing" >&2
  exit 1
fi

if ! node "$here/generate.mjs" "$work/pricing.json" 2>"$work/generate.log"; then
  cat "$work/generate.log" >&2
  echo "check.sh: scripts/pricing/generate.mjs failed" >&2
  exit 1
fi

if ! cmp -s "$work/pricing.json" "$committed"; then
  diff -u --label "committed src/TokenGateway/pricing.json" --label "generated" "$committed" "$work/pricing.json" | head -40 >&2 || true
  echo "pricing.json differs from what scripts/pricing/generate.mjs makes of @pydantic/genai-prices $version; run: node scripts/pricing/generate.mjs" >&2
  exit 1
fi
# The Kubernetes ConfigMap ships the same file (k8s/kustomization.yaml).
if ! cmp -s "$committed" "$here/../../k8s/pricing.json"; then
  echo "k8s/pricing.json differs from src/TokenGateway/pricing.json; run: cp src/TokenGateway/pricing.json k8s/pricing.json" >&2
  exit 1
fi
echo "pricing.json: up to date with @pydantic/genai-prices $version and scripts/pricing/overrides.json"
