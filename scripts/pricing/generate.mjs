#!/usr/bin/env node
// Generates the gateway's price file (src/TokenGateway/pricing.json) from the OpenAI provider of the
// npm package @pydantic/genai-prices (pinned in package.json) and our own overrides.json.
//
//   node scripts/pricing/generate.mjs [outputPath]
//
// The output depends only on the pinned package, overrides.json and the AS_OF constant below (never on
// the clock), so the same inputs give the same bytes. Every rule is described in docs/pricing.md.
// Anything the rules do not cover stops the script with a message (exit 1) instead of guessing.
// Notes on what was skipped or widened go to stderr; the file goes to outputPath.

import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { calcPrice, findProvider } from "@pydantic/genai-prices";

// The date whose prices the file carries: a conditional price applies when its start_date <= AS_OF.
// Bump it deliberately (with the dataset version) when refreshing; see docs/pricing.md.
const AS_OF = "2026-11-23";
const DATASET = "@pydantic/genai-prices";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..", "..");
const outputPath = path.resolve(process.argv[2] ?? path.join(repoRoot, "src", "TokenGateway", "pricing.json"));
const overridesPath = path.join(here, "overrides.json");

// The version actually installed (node_modules), which must be the one package.json pins.
const pinned = JSON.parse(readFileSync(path.join(here, "package.json"), "utf8")).dependencies?.[DATASET];
const installed = JSON.parse(readFileSync(path.join(here, "node_modules", ...DATASET.split("/"), "package.json"), "utf8")).version;

// Dataset price key -> our price dimension. Order here is the order of the keys in the output.
const DIMENSIONS = [
  ["input_mtok", "input"],
  ["cache_read_mtok", "cached_input"],
  ["cache_write_mtok", "cache_write"],
  ["input_audio_mtok", "audio_input"],
  ["cache_audio_read_mtok", "cached_audio_input"],
  ["input_image_mtok", "image_input"],
  ["cache_image_read_mtok", "cached_image_input"],
  ["output_mtok", "output"],
  ["output_audio_mtok", "audio_output"],
  ["output_image_mtok", "image_output"],
];
const TOOL_CALLS = [
  ["web_searches_kcount", "web_search_call"],
  ["storage_searches_kcount", "file_search_call"],
];
const DIM_OF = new Map(DIMENSIONS);
const TOOL_OF = new Map(TOOL_CALLS);
const DIM_ORDER = DIMENSIONS.map(([, d]) => d);
const TOOL_ORDER = TOOL_CALLS.map(([, t]) => t);
const TIER_ORDER = ["flex", "priority"];
const DATED_SUFFIX = /-\d{4}-\d{2}-\d{2}$/;
const NAME = /^[a-z0-9][a-z0-9._:-]*$/;

const notes = [];
const note = (kind, text) => notes.push(`${kind}: ${text}`);
function fail(message) {
  process.stderr.write(`generate.mjs: ${message}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------------
// Numbers: USD amounts with at most 6 decimals, written without float noise.
function usd(value, where) {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) fail(`${where}: ${JSON.stringify(value)} is not a non-negative number`);
  const rounded = Math.round(value * 1e6) / 1e6;
  if (Math.abs(rounded - value) > 1e-9) fail(`${where}: ${value} has more than 6 decimals`);
  return rounded;
}

// ---------------------------------------------------------------------------------------------------
// Conditional prices: the LAST entry whose start_date <= AS_OF (an entry without a constraint always
// applies). The dataset's own lookup walks the list the same way for a request made on AS_OF.
function pricesAsOf(model) {
  if (!Array.isArray(model.prices)) return model.prices;
  let chosen;
  for (const [i, c] of model.prices.entries()) {
    const k = c.constraint;
    if (k === undefined) chosen = c;
    else if (k.type === "start_date") {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(k.start_date)) fail(`${model.id}: start_date ${JSON.stringify(k.start_date)} is not YYYY-MM-DD`);
      if (k.start_date <= AS_OF) chosen = c;
    } else fail(`${model.id}: conditional price #${i} has a constraint of type ${JSON.stringify(k.type)}; only start_date is supported`);
  }
  if (!chosen) fail(`${model.id}: no price is in effect on AS_OF ${AS_OF}`);
  const from = chosen.constraint ? `start_date ${chosen.constraint.start_date}` : "the unconstrained first entry";
  note("conditional", `${model.id}: ${model.prices.length} dated price sets; used ${from} (AS_OF ${AS_OF})`);
  return chosen.prices;
}

// ---------------------------------------------------------------------------------------------------
// Match rules -> exact names. Returns { leaves } with every leaf rule of a top-level "or".
function leaves(match) {
  if (match && Array.isArray(match.or)) return match.or.flatMap(leaves);
  return [match];
}

// "^gpt-5\.6-luna-\d{4}-\d{2}-\d{2}$" -> "gpt-5.6-luna"; anything else -> null.
function datedRegexName(regex) {
  const m = /^\^(.+)-\\d\{4\}-\\d\{2\}-\\d\{2\}\$$/.exec(regex);
  if (!m) return null;
  const name = m[1].replace(/\\\./g, ".");
  return NAME.test(name) && !name.includes("\\") ? name : null;
}

function namesOf(model) {
  const rules = leaves(model.match);
  const equals = [];
  const datedCandidates = []; // [name, rule text]
  const other = [];
  for (const r of rules) {
    if (r && typeof r.equals === "string") equals.push(r.equals.toLowerCase());
    else if (r && typeof r.regex === "string" && datedRegexName(r.regex)) datedCandidates.push([datedRegexName(r.regex), `regex ${r.regex}`]);
    else if (r && typeof r.starts_with === "string" && r.starts_with.endsWith("-")) datedCandidates.push([r.starts_with.slice(0, -1).toLowerCase(), `starts_with ${JSON.stringify(r.starts_with)}`]);
    else other.push(JSON.stringify(r));
  }
  if (equals.length === 0) return { skip: `no exact (equals) name; rules ${rules.map((r) => JSON.stringify(r)).join(", ")} are not emitted as prefixes` };

  const id = model.id.toLowerCase();
  // The entry is named after the model id when the dataset's own rules match the id, else after the
  // first equals (the dataset never does the latter today).
  const entry = equals[0] === id || matches(model.match, id) ? id : equals[0];
  const aliases = [...new Set(equals.filter((n) => n !== entry))].sort();
  const names = new Set([entry, ...aliases]);
  let dated = false;
  const datedFor = [];
  for (const [name, rule] of datedCandidates) {
    if (names.has(name)) {
      dated = true;
      datedFor.push(name);
    } else other.push(`${rule} (its name ${name} is not an exact name of this model)`);
  }
  for (const o of other) note("rule not emitted", `${model.id}: ${o}`);
  for (const n of names) if (!NAME.test(n)) fail(`${model.id}: name ${JSON.stringify(n)} is not a plain lowercase model name`);
  return { entry, aliases, dated, datedFor };
}

// The dataset's matching semantics (case-insensitive), used only to decide the entry name.
function matches(m, name) {
  if (!m) return false;
  if (m.or) return m.or.some((x) => matches(x, name));
  if (m.and) return m.and.every((x) => matches(x, name));
  if ("equals" in m) return name === m.equals.toLowerCase();
  if ("starts_with" in m) return name.startsWith(m.starts_with.toLowerCase());
  if ("ends_with" in m) return name.endsWith(m.ends_with.toLowerCase());
  if ("contains" in m) return name.includes(m.contains.toLowerCase());
  if ("regex" in m) return new RegExp(m.regex).test(name);
  return false;
}

// ---------------------------------------------------------------------------------------------------
// Prices of one model -> our dimensions, long_context and tool_calls.
function convertPrices(model, prices) {
  const keys = Object.keys(prices).filter((k) => prices[k] !== undefined);
  if (!keys.includes("input_mtok")) return { skip: `not priced per token (price keys: ${keys.join(", ") || "none"})` };
  const unknown = keys.filter((k) => !DIM_OF.has(k) && !TOOL_OF.has(k));
  if (unknown.length) fail(`${model.id}: price key(s) ${unknown.join(", ")} have no place in the gateway's schema; map them in generate.mjs (and the gateway) or skip the model deliberately`);

  const dims = {};
  const tools = {};
  const tiers = {};
  let start;
  for (const k of keys) {
    const v = prices[k];
    if (TOOL_OF.has(k)) {
      tools[TOOL_OF.get(k)] = usd(v, `${model.id}.${k}`);
      continue;
    }
    const dim = DIM_OF.get(k);
    if (typeof v === "number") {
      dims[dim] = usd(v, `${model.id}.${k}`);
      continue;
    }
    if (!v || typeof v !== "object" || !Array.isArray(v.tiers)) fail(`${model.id}.${k}: neither a number nor tiered prices`);
    if (v.tiers.length !== 1) fail(`${model.id}.${k}: ${v.tiers.length} tiers; the gateway supports exactly one long-context tier`);
    const t = v.tiers[0];
    if (!Number.isSafeInteger(t.start) || t.start <= 0) fail(`${model.id}.${k}: tier start ${t.start} is not a positive integer`);
    if (start !== undefined && start !== t.start) fail(`${model.id}: tiers start at ${start} and ${t.start}; the gateway supports one threshold per model`);
    start = t.start;
    dims[dim] = usd(v.base, `${model.id}.${k}.base`);
    tiers[dim] = usd(t.price, `${model.id}.${k}.tiers[0].price`);
  }
  return { dims, tools, longContext: start === undefined ? undefined : { threshold_tokens: start, ...tiers } };
}

// ---------------------------------------------------------------------------------------------------
// Overrides: our own data, each group with a "_source".
function loadOverrides() {
  let o;
  try {
    o = JSON.parse(readFileSync(overridesPath, "utf8"));
  } catch (e) {
    fail(`cannot read ${path.relative(repoRoot, overridesPath)}: ${e.message}`);
  }
  const sourced = (x, where) => {
    if (!x || typeof x !== "object" || typeof x._source !== "string" || !x._source.trim()) fail(`overrides.json ${where}: needs a "_source" string`);
    return x;
  };
  sourced(o.defaults, "defaults");
  for (const [i, g] of (o.max_output_tokens ?? []).entries()) sourced(g, `max_output_tokens[${i}]`);
  for (const [i, g] of (o.service_tiers ?? []).entries()) sourced(g, `service_tiers[${i}]`);
  for (const [i, c] of (o.corrections ?? []).entries()) sourced(c, `corrections[${i}]`);
  for (const [name, a] of Object.entries(o.add_models ?? {})) if (!name.startsWith("_")) sourced(a, `add_models.${name}`);
  return o;
}

function priceDims(obj, where, { allowKind = false } = {}) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k.startsWith("_")) continue;
    if (allowKind && k === "kind") {
      if (v !== "embedding") fail(`${where}.kind must be "embedding"`);
      continue;
    }
    if (allowKind && k === "max_output_tokens") continue;
    if (!DIM_ORDER.includes(k)) fail(`${where}: unknown price dimension ${JSON.stringify(k)}`);
    out[k] = usd(v, `${where}.${k}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
function main() {
  if (pinned !== installed) fail(`package.json pins ${DATASET} ${pinned} but ${installed} is installed; run npm ci in scripts/pricing`);
  const provider = findProvider({ providerId: "openai" });
  if (!provider || !Array.isArray(provider.models)) fail(`${DATASET} ${installed} has no "openai" provider`);
  const overrides = loadOverrides();
  const asOfDate = new Date(`${AS_OF}T00:00:00Z`);

  const entries = new Map(); // entry name -> model object (unordered until the end)
  const owner = new Map(); // every exact name -> entry name
  const claim = (name, entry) => {
    if (owner.has(name)) fail(`name ${name} belongs to both ${owner.get(name)} and ${entry}`);
    owner.set(name, entry);
  };

  for (const model of provider.models) {
    const names = namesOf(model);
    if (names.skip) {
      note("skipped", `${model.id}: ${names.skip}`);
      continue;
    }
    const prices = pricesAsOf(model);
    const conv = convertPrices(model, prices);
    if (conv.skip) {
      note("skipped", `${model.id}: ${conv.skip}`);
      continue;
    }
    const embedding = names.entry.startsWith("text-embedding-");
    if (!embedding && conv.dims.output === undefined) {
      note("skipped", `${model.id}: has no output price and is not an embedding model`);
      continue;
    }
    if (embedding && conv.dims.output !== undefined) fail(`${model.id}: an embedding model with an output price`);

    // The dataset itself must resolve every emitted name to this model, at the same prices.
    for (const n of [names.entry, ...names.aliases]) {
      const r = calcPrice({}, n, { providerId: "openai", timestamp: asOfDate });
      if (!r || r.model.id !== model.id) fail(`${n}: the dataset resolves it to ${r ? r.model.id : "nothing"}, not ${model.id}`);
      if (JSON.stringify(r.model_price) !== JSON.stringify(prices)) fail(`${n}: the dataset's price on ${AS_OF} differs from the one chosen here`);
    }
    if (names.dated) {
      for (const n of [names.entry, ...names.aliases]) {
        const probe = `${n}-2031-01-01`;
        const r = calcPrice({}, probe, { providerId: "openai", timestamp: asOfDate });
        if (r && r.model.id !== model.id) fail(`${probe}: dated_snapshots of ${names.entry} would catch it, but the dataset prices it as ${r.model.id}`);
        if (!r) note("widened", `${names.entry}: dated_snapshots also lets ${n}-YYYY-MM-DD match (the dataset has a dated rule only for ${names.datedFor.join(", ")})`);
      }
    }

    const e = {};
    if (embedding) e.kind = "embedding";
    Object.assign(e, conv.dims);
    if (conv.longContext) e.long_context = conv.longContext;
    if (names.aliases.length) e.aliases = names.aliases;
    if (names.dated) e.dated_snapshots = true;
    if (Object.keys(conv.tools).length) e.tool_calls = conv.tools;
    e._model = model.id;
    claim(names.entry, names.entry);
    for (const a of names.aliases) claim(a, names.entry);
    entries.set(names.entry, e);
  }

  // --- overrides: models the dataset lacks
  for (const [name, a] of Object.entries(overrides.add_models ?? {})) {
    if (name.startsWith("_")) continue;
    if (!NAME.test(name)) fail(`overrides.json add_models: ${JSON.stringify(name)} is not a plain lowercase model name`);
    const hit = calcPrice({}, name, { providerId: "openai", timestamp: asOfDate });
    if (hit) fail(`overrides.json add_models.${name}: the dataset now prices it (as ${hit.model.id}); remove it from overrides.json`);
    const dims = priceDims(a, `add_models.${name}`, { allowKind: true });
    if (dims.input === undefined) fail(`add_models.${name}: needs "input"`);
    if (a.kind !== "embedding" && dims.output === undefined) fail(`add_models.${name}: needs "output" (or "kind": "embedding")`);
    const e = a.kind === "embedding" ? { kind: "embedding", ...dims } : { ...dims };
    if (a.max_output_tokens !== undefined) e.max_output_tokens = a.max_output_tokens;
    e._model = `(overrides.json) ${name}`;
    claim(name, name);
    entries.set(name, e);
    note("added", `${name} (overrides.json add_models)`);
  }

  const entryFor = (name, where) => {
    if (entries.has(name)) return entries.get(name);
    if (owner.has(name)) fail(`overrides.json ${where}: ${name} is an alias of ${owner.get(name)}; use the entry name`);
    fail(`overrides.json ${where}: no entry named ${name} in the generated file`);
  };

  // --- overrides: corrections of dataset prices
  for (const [i, c] of (overrides.corrections ?? []).entries()) {
    const e = entryFor(c.model, `corrections[${i}]`);
    const set = priceDims(c.set ?? {}, `corrections[${i}].set`);
    for (const [dim, v] of Object.entries(set)) {
      if (e[dim] === v) fail(`overrides.json corrections[${i}]: ${c.model}.${dim} is already ${v} in the dataset; remove the correction`);
      note("corrected", `${c.model}.${dim}: dataset ${e[dim] ?? "(none)"} -> ${v} (${c._source})`);
      e[dim] = v;
    }
  }

  // --- overrides: max_output_tokens
  for (const [i, g] of (overrides.max_output_tokens ?? []).entries()) {
    for (const [name, v] of Object.entries(g.models ?? {})) {
      const e = entryFor(name, `max_output_tokens[${i}]`);
      if (!Number.isSafeInteger(v) || v <= 0) fail(`overrides.json max_output_tokens[${i}].${name}: not a positive integer`);
      if (e.max_output_tokens !== undefined) fail(`overrides.json: max_output_tokens of ${name} is set twice`);
      e.max_output_tokens = v;
    }
  }

  // --- overrides: published service-tier prices
  for (const [i, g] of (overrides.service_tiers ?? []).entries()) {
    if (!TIER_ORDER.includes(g.tier)) fail(`overrides.json service_tiers[${i}]: tier must be one of ${TIER_ORDER.join(", ")}`);
    for (const [name, p] of Object.entries(g.models ?? {})) {
      const e = entryFor(name, `service_tiers[${i}]`);
      const dims = priceDims(p, `service_tiers[${i}].${name}`);
      const have = DIM_ORDER.filter((d) => e[d] !== undefined).join(",");
      const got = DIM_ORDER.filter((d) => dims[d] !== undefined).join(",");
      if (have !== got) fail(`overrides.json service_tiers[${i}].${name}: gives ${got} but the entry has ${have}; a tier must price exactly the entry's dimensions`);
      e.service_tiers ??= {};
      if (e.service_tiers[g.tier]) fail(`overrides.json: ${g.tier} prices of ${name} are set twice`);
      e.service_tiers[g.tier] = dims;
    }
  }

  // --- dated snapshots must not shadow another entry's exact name (exact names would be ambiguous)
  for (const [name, ent] of owner) {
    if (!DATED_SUFFIX.test(name)) continue;
    const base = name.replace(DATED_SUFFIX, "");
    const baseEntry = owner.get(base);
    if (baseEntry && baseEntry !== ent && entries.get(baseEntry).dated_snapshots)
      fail(`${name} (entry ${ent}) also matches the dated_snapshots of ${baseEntry}; the file would be ambiguous`);
  }

  // --- file defaults
  const d = overrides.defaults;
  const multipliers = {};
  for (const t of TIER_ORDER) {
    const m = d.service_tiers?.[t];
    if (typeof m !== "number" || !(m > 0)) fail(`overrides.json defaults.service_tiers.${t}: needs a positive multiplier`);
    multipliers[t] = usd(m, `defaults.service_tiers.${t}`);
  }
  if (!Array.isArray(d.auto_tiers) || !d.auto_tiers.every((x) => typeof x === "string")) fail(`overrides.json defaults.auto_tiers: needs an array of strings`);
  const defaultTools = {};
  for (const t of TOOL_ORDER) defaultTools[t] = usd(d.tool_calls?.[t], `defaults.tool_calls.${t}`);

  // --- write, in a fixed key order
  const models = {};
  for (const name of [...entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const e = entries.get(name);
    const out = {};
    if (e.kind) out.kind = e.kind;
    for (const dim of DIM_ORDER) if (e[dim] !== undefined) out[dim] = e[dim];
    if (e.long_context) {
      out.long_context = { threshold_tokens: e.long_context.threshold_tokens };
      for (const dim of DIM_ORDER) if (e.long_context[dim] !== undefined) out.long_context[dim] = e.long_context[dim];
    }
    if (e.max_output_tokens !== undefined) out.max_output_tokens = e.max_output_tokens;
    if (e.aliases) out.aliases = e.aliases;
    if (e.dated_snapshots) out.dated_snapshots = true;
    if (e.tool_calls) {
      out.tool_calls = {};
      for (const t of TOOL_ORDER) if (e.tool_calls[t] !== undefined) out.tool_calls[t] = e.tool_calls[t];
    }
    if (e.service_tiers) {
      out.service_tiers = {};
      for (const t of TIER_ORDER) {
        if (!e.service_tiers[t]) continue;
        out.service_tiers[t] = {};
        for (const dim of DIM_ORDER) if (e.service_tiers[t][dim] !== undefined) out.service_tiers[t][dim] = e.service_tiers[t][dim];
      }
    }
    if (name.endsWith("*")) fail(`${name}: a name ending in * would be a prefix`);
    models[name] = out;
  }

  const file = {
    _comment: `Generated by scripts/pricing/generate.mjs from ${DATASET} ${installed} (MIT, see pricing.NOTICE.md) and scripts/pricing/overrides.json. Do not edit by hand: see docs/pricing.md.`,
    source: { dataset: DATASET, version: installed, as_of: AS_OF },
    service_tiers: multipliers,
    auto_tiers: d.auto_tiers,
    tool_calls: defaultTools,
    models,
  };
  writeFileSync(outputPath, `${JSON.stringify(file, null, 2)}\n`);

  for (const n of notes) process.stderr.write(`${n}\n`);
  process.stderr.write(`wrote ${Object.keys(models).length} models (${owner.size} names) to ${path.relative(process.cwd(), outputPath) || outputPath}\n`);
}

main();
