#!/usr/bin/env node
// Offline checks of the TokenGateway Grafana dashboard model (Node.js stdlib only).
//
//   node deploy/validate-dashboard.mjs [FILE]                         validate (exit 1 on any error)
//   node deploy/validate-dashboard.mjs --list-queries [FILE]          print every PromQL expr, one per line
//   node deploy/validate-dashboard.mjs --list-queries --resolve [FILE]
//        same, with the Grafana variables replaced so Prometheus can evaluate them:
//        $account -> .*  (selectors are written account=~"$account", so .* matches every team,
//        including account="" of invalid_key requests), $__rate_interval -> 5m, $__interval -> 1m,
//        $__range -> 1h.
//
// FILE defaults to k8s/dashboards/tokengateway.json next to this script's folder.
// Queries are printed with newlines collapsed to spaces, so one line is one query.

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith("--")));
const files = args.filter((a) => !a.startsWith("--"));
for (const f of flags) {
  if (!["--list-queries", "--resolve", "--help"].includes(f)) {
    console.error(`unknown option ${f}`);
    process.exit(2);
  }
}
if (flags.has("--help")) {
  console.log("usage: validate-dashboard.mjs [--list-queries [--resolve]] [dashboard.json]");
  process.exit(0);
}
const file = files[0] ?? resolve(here, "..", "k8s", "dashboards", "tokengateway.json");

// The metrics the gateway exposes on /metrics (histograms with their series suffixes).
const COUNTERS = [
  "tokengateway_tokens_total",
  "tokengateway_cost_usd_total",
  "tokengateway_requests_total",
  "tokengateway_redis_errors_total",
  "tokengateway_rate_limited_total",
];
const GAUGES = ["tokengateway_balance_usd", "tokengateway_held_usd"];
const HISTOGRAMS = [
  "tokengateway_reserve_duration_seconds",
  "tokengateway_settle_duration_seconds",
  "tokengateway_upstream_duration_seconds",
  "tokengateway_time_to_first_token_seconds",
  "tokengateway_overhead_seconds",
  "gen_ai_client_token_usage",
];
const KNOWN_METRICS = new Set([
  ...COUNTERS,
  ...GAUGES,
  ...HISTOGRAMS.flatMap((h) => [`${h}_bucket`, `${h}_sum`, `${h}_count`]),
]);
// Metrics with an `account` label: a query on them must honour the Team variable.
const ACCOUNT_METRICS = new Set([
  "tokengateway_tokens_total",
  "tokengateway_cost_usd_total",
  "tokengateway_requests_total",
  "tokengateway_balance_usd",
  "tokengateway_held_usd",
  "tokengateway_rate_limited_total",
]);
const OUTCOMES = new Set([
  "ok", "insufficient_quota", "hard_limit", "key_budget", "project_limit", "invalid_key", "model_not_allowed",
  "invalid_request", "model_not_priced", "request_too_large", "upstream_error",
  "billing_unavailable", "billing_store_full", "client_disconnected", "rate_limited",
]);
const ALLOWED_VARS = new Set(["account", "__rate_interval", "__interval", "__range"]);
const SUBSTITUTIONS = [
  [/\$\{?__rate_interval\}?/g, "5m"],
  [/\$\{?__interval\}?/g, "1m"],
  [/\$\{?__range\}?/g, "1h"],
  [/\$\{?account\}?/g, ".*"],
];
const DATASOURCE_UIDS = new Set(["${datasource}", "$datasource"]);

const errors = [];
const err = (where, msg) => errors.push(`${where}: ${msg}`);

let dash;
try {
  dash = JSON.parse(readFileSync(file, "utf8"));
} catch (e) {
  console.error(`FAIL ${file}: ${e.message}`);
  process.exit(1);
}

const oneLine = (expr) => expr.replace(/\s+/g, " ").trim();
const resolveVars = (expr) => SUBSTITUTIONS.reduce((s, [re, v]) => s.replace(re, v), expr);

// All panels, including those nested in collapsed rows.
function allPanels(list) {
  const out = [];
  for (const p of list ?? []) {
    out.push(p);
    if (p && p.type === "row" && Array.isArray(p.panels)) out.push(...allPanels(p.panels));
  }
  return out;
}

if (!dash || typeof dash !== "object" || Array.isArray(dash)) {
  console.error(`FAIL ${file}: not a JSON object`);
  process.exit(1);
}
const panels = allPanels(dash.panels);

if (flags.has("--list-queries")) {
  for (const p of panels) {
    for (const t of p.targets ?? []) {
      if (typeof t.expr === "string" && t.expr.trim() !== "") {
        console.log(flags.has("--resolve") ? oneLine(resolveVars(t.expr)) : oneLine(t.expr));
      }
    }
  }
  process.exit(0);
}

// --- dashboard-level fields ---
if (typeof dash.title !== "string" || !dash.title) err("dashboard", "missing title");
if (typeof dash.uid !== "string" || !/^[A-Za-z0-9_-]{1,40}$/.test(dash.uid)) err("dashboard", "uid must be 1-40 chars [A-Za-z0-9_-]");
if (!Number.isInteger(dash.schemaVersion) || dash.schemaVersion < 39) err("dashboard", `schemaVersion must be an integer >= 39 (is ${dash.schemaVersion})`);
if (!Array.isArray(dash.panels) || dash.panels.length === 0) err("dashboard", "panels must be a non-empty array");
if (dash.id !== undefined && dash.id !== null) err("dashboard", "id must be null/absent in a provisioned dashboard (Grafana assigns it)");

// --- template variables ---
const vars = dash.templating?.list;
if (!Array.isArray(vars)) {
  err("templating", "templating.list missing");
} else {
  const names = vars.map((v) => v.name);
  if (new Set(names).size !== names.length) err("templating", "duplicate variable names");
  const ds = vars.find((v) => v.name === "datasource");
  if (!ds) err("templating", "no `datasource` variable");
  else {
    if (ds.type !== "datasource") err("templating.datasource", `type must be "datasource" (is ${ds.type})`);
    if (ds.query !== "prometheus") err("templating.datasource", `query must be "prometheus" (is ${JSON.stringify(ds.query)})`);
  }
  const acct = vars.find((v) => v.name === "account");
  if (!acct) err("templating", "no `account` variable");
  else {
    const q = typeof acct.query === "string" ? acct.query : acct.query?.query;
    if (acct.type !== "query") err("templating.account", `type must be "query" (is ${acct.type})`);
    if (!/^label_values\(\s*tokengateway_balance_usd\s*,\s*account\s*\)$/.test(q ?? "")) err("templating.account", `query must be label_values(tokengateway_balance_usd, account) (is ${JSON.stringify(q)})`);
    if (!DATASOURCE_UIDS.has(acct.datasource?.uid)) err("templating.account", "datasource.uid must be ${datasource}");
    if (acct.includeAll && acct.allValue !== ".*") err("templating.account", 'with includeAll, allValue must be ".*" (regex selectors)');
  }
}

// --- panels ---
const ids = new Map();
for (const p of panels) {
  const where = `panel ${JSON.stringify(p?.title ?? "?")} (id ${p?.id})`;
  if (!Number.isInteger(p?.id) || p.id <= 0) err(where, "id must be a positive integer");
  else if (ids.has(p.id)) err(where, `duplicate id, also used by ${JSON.stringify(ids.get(p.id))}`);
  else ids.set(p.id, p.title);
  if (typeof p.type !== "string" || !p.type) err(where, "missing type");
  if (typeof p.title !== "string" || !p.title) err(where, "missing title");

  const g = p.gridPos;
  if (!g || typeof g !== "object") err(where, "missing gridPos");
  else {
    for (const k of ["h", "w", "x", "y"]) if (!Number.isInteger(g[k]) || g[k] < 0) err(where, `gridPos.${k} must be a non-negative integer`);
    if (g.h === 0 || g.w === 0) err(where, "gridPos.h and gridPos.w must be > 0");
    if (g.x + g.w > 24) err(where, `gridPos x+w = ${g.x + g.w} exceeds the 24-column grid`);
  }
  if (p.type === "row") {
    if (p.targets?.length) err(where, "a row has no targets");
    continue;
  }

  if (!DATASOURCE_UIDS.has(p.datasource?.uid)) err(where, "panel datasource.uid must be ${datasource}");
  if (!Array.isArray(p.targets) || p.targets.length === 0) {
    err(where, "no targets");
    continue;
  }
  const refIds = new Set();
  for (const t of p.targets) {
    const tw = `${where} target ${t?.refId ?? "?"}`;
    if (typeof t.refId !== "string" || !t.refId) err(tw, "missing refId");
    else if (refIds.has(t.refId)) err(tw, "duplicate refId in panel");
    else refIds.add(t.refId);
    if (!DATASOURCE_UIDS.has(t.datasource?.uid)) err(tw, "target datasource.uid must be ${datasource}");
    if (typeof t.expr !== "string" || t.expr.trim() === "") {
      err(tw, "missing expr");
      continue;
    }
    for (const m of checkExpr(t.expr)) err(tw, m);
  }
}

// Overlapping panels (top level; nested panels of collapsed rows are laid out when expanded).
const top = (dash.panels ?? []).filter((p) => p?.gridPos);
for (let i = 0; i < top.length; i++) {
  for (let j = i + 1; j < top.length; j++) {
    const a = top[i].gridPos, b = top[j].gridPos;
    if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) {
      err(`panel ${JSON.stringify(top[i].title)}`, `overlaps panel ${JSON.stringify(top[j].title)}`);
    }
  }
}

// Lightweight PromQL sanity checks; a later CI step evaluates every query against Prometheus.
function checkExpr(expr) {
  const out = [];
  // Balanced (), [], {} outside string literals; closed string literals.
  const stack = [];
  const pairs = { ")": "(", "]": "[", "}": "{" };
  let quote = null;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") quote = c;
    else if ("([{".includes(c)) stack.push(c);
    else if (")]}".includes(c)) {
      if (stack.pop() !== pairs[c]) {
        out.push(`unbalanced '${c}' at offset ${i}`);
        break;
      }
    }
  }
  if (quote) out.push("unterminated string literal");
  if (stack.length) out.push(`unclosed '${stack.join("")}'`);

  // Variables: only the ones the CI substitution knows about.
  for (const m of expr.matchAll(/\$\{?(\w+)\}?/g)) {
    if (!ALLOWED_VARS.has(m[1])) out.push(`unknown variable $${m[1]}`);
  }
  // $account only as a regex matcher, so that "All" (.*) and multi-value (a|b) both work.
  const acctUses = [...expr.matchAll(/\$\{?account\}?/g)].length;
  const acctMatchers = [...expr.matchAll(/account=~"\$\{?account\}?"/g)].length;
  if (acctUses !== acctMatchers) out.push('use $account only as account=~"$account"');

  // Metric names must be ones the gateway exposes; account-labelled metrics must be filtered.
  const metricRe = /\b((?:tokengateway|gen_ai)_[a-z0-9_]+)\b\s*(\{[^}]*\})?/g;
  let sawMetric = false;
  // Label names in grouping clauses and selectors are not metrics.
  const scan = expr.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, (c) => " ".repeat(c.length));
  const insideBraces = (idx) => (scan.slice(0, idx).match(/\{/g) ?? []).length > (scan.slice(0, idx).match(/\}/g) ?? []).length;
  for (const m of scan.matchAll(metricRe)) {
    const name = m[1];
    if (insideBraces(m.index)) continue;
    sawMetric = true;
    if (!KNOWN_METRICS.has(name)) {
      out.push(`unknown metric ${name}`);
      continue;
    }
    const sel = m[2] ?? "";
    if (ACCOUNT_METRICS.has(name) && !/account=~"\$\{?account\}?"/.test(sel)) {
      out.push(`${name} without the account=~"$account" selector`);
    }
    for (const om of sel.matchAll(/outcome\s*(=~|=|!=|!~)\s*"([^"]*)"/g)) {
      const values = om[1].includes("~") ? om[2].split("|") : [om[2]];
      for (const v of values) if (!OUTCOMES.has(v)) out.push(`unknown outcome "${v}"`);
    }
    if (/_bucket$/.test(name) && !/histogram_quantile\s*\(/.test(expr)) out.push(`${name} used outside histogram_quantile`);
  }
  if (!sawMetric) out.push("references no TokenGateway metric");
  if (/histogram_quantile\s*\(/.test(expr) && !/by\s*\([^)]*\ble\b[^)]*\)/.test(expr)) out.push("histogram_quantile without `by (le …)`");
  return out;
}

const nQueries = panels.reduce((n, p) => n + (p.targets?.length ?? 0), 0);
const nPanels = panels.filter((p) => p.type !== "row").length;
if (errors.length) {
  for (const e of errors) console.error(`FAIL ${e}`);
  console.error(`${file}: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(`OK ${file}: schemaVersion ${dash.schemaVersion}, ${nPanels} panels, ${panels.length - nPanels} rows, ${nQueries} queries, ${ids.size} unique ids`);
