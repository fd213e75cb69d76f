#!/usr/bin/env bash
# Render the TokenGateway kustomize base (or an overlay) and validate every object offline.
#
#   deploy/validate-k8s.sh                     # validates k8s/ (the base; REPLACE_ME placeholders allowed)
#   deploy/validate-k8s.sh --overlay DIR       # validates an overlay; fails on any REPLACE_ME left in a Secret
#   deploy/validate-k8s.sh --renderer builtin  # force the built-in renderer (see below)
#   deploy/validate-k8s.sh --render-only       # print the rendered YAML and exit
#
# 1. Render: `kubectl kustomize DIR` (kubectl is on this project's machine image, installed from a
#    Debian package that no configured apt source offers, so it cannot be apt-installed when missing).
#    Fallbacks, in order: a standalone `kustomize` binary, then a small built-in Node renderer that
#    supports exactly the kustomization fields the base uses (resources, labels, commonLabels,
#    namespace, images, configMapGenerator with files/literals/options, generatorOptions) and
#    refuses any other field, so it never renders something different silently.
# 2. Schema: every object is validated against the Kubernetes OpenAPI schemas with the npm package
#    `kubernetes-models` (ServiceMonitor with `@kubernetes-models/prometheus-operator`), plus a
#    strict check that rejects fields the schema does not define (typos such as
#    `readOnlyRootFileSystem`), which the API server would drop or refuse.
# 3. Policy: the deployment rules of docs/deploy.md (probes, non-root, read-only root FS, dropped
#    capabilities, seccomp, resources, references between objects, Redis AOF, dashboard label, …).
#
# Needs node and npm; installs the pinned validator packages (deploy/package-lock.json) on first use.
# Exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target="$repo/k8s"
renderer="auto"
strict_secrets=0
render_only=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --overlay) target="$(cd "$2" && pwd)"; strict_secrets=1; shift 2 ;;
    --renderer) renderer="$2"; shift 2 ;;
    --render-only) render_only=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

command -v node >/dev/null || { echo "FAIL: node is required" >&2; exit 1; }

if [[ ! -d "$here/node_modules/kubernetes-models" || ! -d "$here/node_modules/@kubernetes-models/prometheus-operator" || ! -d "$here/node_modules/yaml" ]]; then
  echo "== installing validator packages (npm ci in deploy/)" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT

render_builtin() {
  (cd "$here" && node --input-type=module - "$1") <<'NODE'
// Built-in renderer for the subset of kustomize this repository uses.
import { readFileSync, existsSync, statSync } from "node:fs";
import { join, basename } from "node:path";
import YAML from "yaml";

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "labels", "commonLabels", "namespace",
  "images", "configMapGenerator", "generatorOptions"]);

function build(dir) {
  const kfile = ["kustomization.yaml", "kustomization.yml", "Kustomization"].map((f) => join(dir, f)).find(existsSync);
  if (!kfile) throw new Error(`no kustomization file in ${dir}`);
  const k = YAML.parse(readFileSync(kfile, "utf8")) ?? {};
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${kfile}: field '${key}' is not supported by the built-in renderer; install kubectl`);
  }
  let objs = [];
  for (const r of k.resources ?? []) {
    const p = join(dir, r);
    if (statSync(p).isDirectory()) objs.push(...build(p));
    else for (const d of YAML.parseAllDocuments(readFileSync(p, "utf8"))) {
      if (d.errors.length) throw new Error(`${p}: ${d.errors[0].message}`);
      const o = d.toJS();
      if (o) objs.push(o);
    }
  }
  const gopts = k.generatorOptions ?? {};
  for (const g of k.configMapGenerator ?? []) {
    if (g.behavior && g.behavior !== "create") throw new Error(`configMapGenerator behavior '${g.behavior}' unsupported by the built-in renderer`);
    const opts = { ...gopts, ...(g.options ?? {}) };
    if (!opts.disableNameSuffixHash) throw new Error(`configMapGenerator '${g.name}': name hash suffixes are unsupported by the built-in renderer`);
    const data = {};
    for (const f of g.files ?? []) {
      const [key, path] = f.includes("=") ? f.split("=", 2) : [basename(f), f];
      data[key] = readFileSync(join(dir, path), "utf8");
    }
    for (const l of g.literals ?? []) {
      const i = l.indexOf("=");
      data[l.slice(0, i)] = l.slice(i + 1);
    }
    const metadata = { name: g.name };
    if (opts.labels) metadata.labels = { ...opts.labels };
    if (opts.annotations) metadata.annotations = { ...opts.annotations };
    if (g.namespace) metadata.namespace = g.namespace;
    objs.push({ apiVersion: "v1", kind: "ConfigMap", metadata, data });
  }
  const podTemplates = (o) => {
    const t = [];
    if (o.spec?.template) t.push(o.spec.template);
    if (o.spec?.jobTemplate?.spec?.template) t.push(o.spec.jobTemplate.spec.template);
    return t;
  };
  const addLabels = (o, pairs, includeSelectors, includeTemplates) => {
    o.metadata = o.metadata ?? {};
    o.metadata.labels = { ...(o.metadata.labels ?? {}), ...pairs };
    if (includeTemplates || includeSelectors) for (const t of podTemplates(o)) {
      t.metadata = t.metadata ?? {};
      t.metadata.labels = { ...(t.metadata.labels ?? {}), ...pairs };
    }
    if (includeSelectors) throw new Error("labels with includeSelectors are unsupported by the built-in renderer");
  };
  for (const l of k.labels ?? []) for (const o of objs) addLabels(o, l.pairs ?? {}, !!l.includeSelectors, !!l.includeTemplates);
  if (k.commonLabels) throw new Error("commonLabels is unsupported by the built-in renderer (it changes selectors)");
  if (k.namespace) for (const o of objs) {
    if (o.kind !== "Namespace") { o.metadata = o.metadata ?? {}; o.metadata.namespace = k.namespace; }
  }
  for (const img of k.images ?? []) {
    for (const o of objs) for (const t of podTemplates(o)) {
      for (const c of [...(t.spec?.containers ?? []), ...(t.spec?.initContainers ?? [])]) {
        const m = /^([^@:]+(?::\d+\/[^@:]+)?)(?::([^@]+))?(?:@(.+))?$/.exec(c.image ?? "");
        if (!m || m[1] !== img.name) continue;
        let image = img.newName ?? m[1];
        if (img.digest) image += `@${img.digest}`;
        else if (img.newTag) image += `:${img.newTag}`;
        else if (m[2]) image += `:${m[2]}`;
        c.image = image;
      }
    }
  }
  return objs;
}
const objs = build(process.argv[2]);
process.stdout.write(objs.map((o) => YAML.stringify(o)).join("---\n"));
NODE
}

log() { if [[ $render_only == 1 ]]; then echo "$@" >&2; else echo "$@"; fi; }
log "== rendering $target"
used=""
if [[ "$renderer" == "auto" || "$renderer" == "kubectl" ]] && command -v kubectl >/dev/null; then
  kubectl kustomize "$target" >"$rendered"
  used="kubectl kustomize ($(kubectl version --client 2>/dev/null | tr '\n' ' '))"
elif [[ "$renderer" == "auto" || "$renderer" == "kustomize" ]] && command -v kustomize >/dev/null; then
  kustomize build "$target" >"$rendered"
  used="kustomize build ($(kustomize version 2>/dev/null | head -1))"
elif [[ "$renderer" == "auto" || "$renderer" == "builtin" ]]; then
  [[ "$renderer" == "builtin" ]] || echo "WARN: neither kubectl nor kustomize found; using the built-in renderer (subset of kustomize)" >&2
  render_builtin "$target" >"$rendered"
  used="built-in renderer"
else
  echo "FAIL: renderer '$renderer' not available" >&2
  exit 1
fi
log "   rendered with $used: $(grep -c '^kind:' "$rendered") objects"
if [[ $render_only == 1 ]]; then cat "$rendered"; exit 0; fi

echo "== validating"
(cd "$here" && RENDERED="$rendered" STRICT_SECRETS="$strict_secrets" REPO="$repo" node --input-type=module -) <<'NODE'
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const errors = [];
const fail = (where, msg) => errors.push(`${where}: ${msg}`);
const text = readFileSync(process.env.RENDERED, "utf8");
const strictSecrets = process.env.STRICT_SECRETS === "1";

const objs = [];
for (const d of YAML.parseAllDocuments(text)) {
  if (d.errors.length) { fail("yaml", d.errors.map((e) => e.message).join("; ")); continue; }
  const o = d.toJS();
  if (o) objs.push(o);
}
if (objs.length === 0) fail("render", "no objects rendered");
const id = (o) => `${o.kind}/${o.metadata?.name}`;

// ---------- 1. schema validation with kubernetes-models ----------
function modulePath(apiVersion) {
  if (apiVersion === "monitoring.coreos.com/v1") return "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
  if (!apiVersion.includes("/")) return `kubernetes-models/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

// Strict field check: walk the object along the TypeScript interfaces that kubernetes-models
// generates from the same OpenAPI schemas, and reject properties the schema does not define.
const dtsCache = new Map();
function parseDts(file) {
  if (dtsCache.has(file)) return dtsCache.get(file);
  const src = readFileSync(file, "utf8");
  const imports = new Map();
  for (const m of src.matchAll(/import \{ ([^}]+) \} from "([^"]+)";/g)) {
    for (const name of m[1].split(",").map((s) => s.trim())) imports.set(name, m[2]);
  }
  const im = /export interface (\w+)(?: extends ([\w, ]+))? \{\n([\s\S]*?)\n\}/.exec(src);
  let result = null;
  if (im) {
    const fields = new Map();
    // Field declarations sit at 4 spaces; a multi-line type ({ … } or Array<{ … }>) keeps only
    // its first line, and is not descended into.
    for (const fm of im[3].matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm)) fields.set(fm[1], fm[2]);
    result = { name: im[1], extends: (im[2] ?? "").split(",").map((s) => s.trim()).filter(Boolean), fields, imports };
  }
  dtsCache.set(file, result);
  return result;
}
function resolveDts(spec, fromFile) {
  try {
    const base = fromFile ? new URL(spec, `file://${fromFile}`).href : null;
    const url = spec.startsWith(".") ? base : import.meta.resolve(spec);
    const p = fileURLToPath(url).replace(/\.js$/, "") + ".d.ts";
    return existsSync(p) ? p : null;
  } catch { return null; }
}
function strictCheck(value, dtsFile, path, where) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return;
  const info = parseDts(dtsFile);
  if (!info) return;
  // Only interfaces whose every field is declared inline (TypeMeta's apiVersion/kind are).
  if (info.extends.some((e) => e !== "TypeMeta")) return;
  for (const [key, v] of Object.entries(value)) {
    const type = info.fields.get(key);
    if (type === undefined) { fail(where, `unknown field ${path}${path ? "." : ""}${key}`); continue; }
    const single = /^(I\w+)$/.exec(type);
    const arr = /^Array<(I\w+)>$/.exec(type);
    const typeName = single?.[1] ?? arr?.[1];
    if (!typeName || !info.imports.has(typeName)) continue;
    const child = resolveDts(info.imports.get(typeName), dtsFile);
    if (!child) continue;
    if (arr && Array.isArray(v)) v.forEach((e, i) => strictCheck(e, child, `${path}${path ? "." : ""}${key}[${i}]`, where));
    else if (single) strictCheck(v, child, `${path}${path ? "." : ""}${key}`, where);
  }
}

const seen = new Set();
for (const o of objs) {
  const where = id(o);
  if (!o.apiVersion || !o.kind || !o.metadata?.name) { fail(where, "apiVersion, kind and metadata.name are required"); continue; }
  const key = `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ""}|${o.metadata.name}`;
  if (seen.has(key)) fail(where, "duplicate object");
  seen.add(key);
  let Model;
  try {
    Model = (await import(modulePath(o.apiVersion)))[o.kind];
  } catch { /* unknown group/version */ }
  if (typeof Model !== "function") { fail(where, `no schema for ${o.apiVersion} ${o.kind}`); continue; }
  const copy = structuredClone(o);
  // NOTE: kustomize wraps long base64 values of generated Secrets over several lines; the API
  // server's base64 decoder ignores the newlines, so the schema check must too.
  if (copy.kind === "Secret" && copy.data) for (const k of Object.keys(copy.data)) copy.data[k] = String(copy.data[k]).replace(/\s+/g, "");
  try {
    new Model(copy).validate();
  } catch (e) {
    fail(where, `schema: ${e.message}`);
  }
  const dts = resolveDts(`${modulePath(o.apiVersion)}/${o.kind}`);
  if (dts) strictCheck(o, dts, "", where);
  else fail(where, "type declarations not found for the strict field check");
}
const schemaErrors = errors.length;
console.log(`   schema: ${objs.length} objects checked against kubernetes-models${schemaErrors ? `, ${schemaErrors} error(s)` : ", all valid"}`);

// ---------- 2. deployment policy ----------
const byKind = (k) => objs.filter((o) => o.kind === k);
const find = (k, n) => objs.find((o) => o.kind === k && o.metadata.name === n);
const matches = (selector, labels) => selector && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const workloads = objs.filter((o) => ["Deployment", "StatefulSet", "DaemonSet"].includes(o.kind));

for (const w of workloads) {
  const where = id(w);
  const tpl = w.spec.template;
  if (!matches(w.spec.selector?.matchLabels, tpl.metadata?.labels)) fail(where, "selector does not match the pod template labels");
  const pod = tpl.spec;
  if (pod.securityContext?.runAsNonRoot !== true) fail(where, "pod securityContext.runAsNonRoot must be true");
  if (pod.securityContext?.seccompProfile?.type !== "RuntimeDefault") fail(where, "pod seccompProfile must be RuntimeDefault");
  if (pod.automountServiceAccountToken !== false) fail(where, "automountServiceAccountToken must be false");
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    const cw = `${where} container ${c.name}`;
    const sc = c.securityContext ?? {};
    if (sc.readOnlyRootFilesystem !== true) fail(cw, "readOnlyRootFilesystem must be true");
    if (sc.allowPrivilegeEscalation !== false) fail(cw, "allowPrivilegeEscalation must be false");
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) fail(cw, "capabilities.drop must include ALL");
    if (sc.privileged) fail(cw, "privileged is not allowed");
    if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory) fail(cw, "resources.requests.cpu/memory and limits.memory are required");
    if (!c.livenessProbe || !c.readinessProbe) fail(cw, "liveness and readiness probes are required");
    if (!c.image || /:latest$/.test(c.image) === false && !c.image.includes(":") && !c.image.includes("@")) { /* base uses kustomize images */ }
    const volNames = new Set((pod.volumes ?? []).map((v) => v.name).concat((w.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name)));
    for (const m of c.volumeMounts ?? []) if (!volNames.has(m.name)) fail(cw, `volumeMount ${m.name} has no volume`);
    for (const ef of c.envFrom ?? []) {
      if (ef.configMapRef && !find("ConfigMap", ef.configMapRef.name)) fail(cw, `envFrom ConfigMap ${ef.configMapRef.name} not rendered`);
      if (ef.secretRef && !find("Secret", ef.secretRef.name)) fail(cw, `envFrom Secret ${ef.secretRef.name} not rendered`);
    }
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe].filter(Boolean)) {
      const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
      if (typeof port === "string" && !(c.ports ?? []).some((p) => p.name === port)) fail(cw, `probe port ${port} is not a named container port`);
    }
  }
  for (const v of pod.volumes ?? []) {
    if (v.configMap) {
      const cm = find("ConfigMap", v.configMap.name);
      if (!cm) fail(where, `volume ${v.name}: ConfigMap ${v.configMap.name} not rendered`);
      else for (const it of v.configMap.items ?? []) if (!(it.key in (cm.data ?? {}))) fail(where, `volume ${v.name}: key ${it.key} missing in ConfigMap ${cm.metadata.name}`);
    }
    if (v.secret && !find("Secret", v.secret.secretName)) fail(where, `volume ${v.name}: Secret ${v.secret.secretName} not rendered`);
  }
  if (pod.serviceAccountName && !find("ServiceAccount", pod.serviceAccountName)) fail(where, `ServiceAccount ${pod.serviceAccountName} not rendered`);
}

// The gateway Deployment specifically.
const gw = find("Deployment", "tokengateway");
if (!gw) fail("Deployment/tokengateway", "not rendered");
else {
  const where = id(gw);
  const pod = gw.spec.template.spec;
  const c = pod.containers.find((x) => x.name === "tokengateway");
  if (!(gw.spec.replicas >= 2)) fail(where, "replicas must be >= 2");
  if (!c) fail(where, "no container named tokengateway");
  else {
    if (!(c.ports ?? []).some((p) => p.containerPort === 8080)) fail(where, "must expose containerPort 8080");
    if (c.livenessProbe?.httpGet?.path !== "/healthz") fail(where, "livenessProbe must GET /healthz");
    if (c.readinessProbe?.httpGet?.path !== "/readyz") fail(where, "readinessProbe must GET /readyz");
    const tmp = (c.volumeMounts ?? []).find((m) => m.mountPath === "/tmp");
    if (!tmp || !(pod.volumes ?? []).some((v) => v.name === tmp.name && v.emptyDir)) fail(where, "/tmp must be an emptyDir mount");
    if (!(c.envFrom ?? []).some((e) => e.configMapRef) || !(c.envFrom ?? []).some((e) => e.secretRef)) fail(where, "env must come from a ConfigMap and a Secret");
    const env = Object.assign({}, ...(c.envFrom ?? []).filter((e) => e.configMapRef).map((e) => find("ConfigMap", e.configMapRef.name)?.data ?? {}));
    const pricingPath = env.TokenGateway__Pricing__File;
    if (!pricingPath) fail(where, "TokenGateway__Pricing__File is not set");
    else {
      const dir = pricingPath.replace(/\/[^/]+$/, ""), file = pricingPath.split("/").pop();
      const m = (c.volumeMounts ?? []).find((vm) => vm.mountPath === dir);
      const vol = m && (pod.volumes ?? []).find((v) => v.name === m.name);
      if (!vol?.configMap) fail(where, `${pricingPath} is not mounted from a ConfigMap`);
      else if (m.subPath) fail(where, "the pricing ConfigMap must not use subPath (updates would not reach the pod)");
      else {
        const cm = find("ConfigMap", vol.configMap.name);
        const key = (vol.configMap.items ?? []).find((i) => i.path === file)?.key ?? file;
        try {
          const pricing = JSON.parse(cm?.data?.[key] ?? "");
          const models = Object.entries(pricing.models ?? {});
          if (models.length === 0) fail(where, "pricing.json has no models");
          for (const [name, p] of models) {
            if (typeof p.input !== "number" || p.input < 0) fail(`pricing.json ${name}`, "input price must be a non-negative number");
            for (const f of ["cached_input", "output", "max_output_tokens"]) if (f in p && (typeof p[f] !== "number" || p[f] < 0)) fail(`pricing.json ${name}`, `${f} must be a non-negative number`);
          }
        } catch (e) { fail(where, `pricing.json in ConfigMap ${vol.configMap.name} is not valid JSON: ${e.message}`); }
      }
    }
  }
  if (!(pod.topologySpreadConstraints ?? []).length) fail(where, "topologySpreadConstraints required");
}

// Secrets: placeholders only in the base; none left in an overlay.
for (const s of byKind("Secret")) {
  const values = { ...(s.stringData ?? {}), ...Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()])) };
  for (const [k, v] of Object.entries(values)) {
    if (strictSecrets && /REPLACE_ME/.test(v)) fail(id(s), `${k} still holds the REPLACE_ME placeholder`);
    if (!strictSecrets && !/^REPLACE_ME/.test(v)) fail(id(s), `${k}: the base must hold placeholders only (REPLACE_ME), never a real value`);
  }
}

// Services select pods and name existing ports.
for (const svc of byKind("Service")) {
  const targets = workloads.filter((w) => matches(svc.spec.selector, w.spec.template.metadata.labels));
  if (targets.length === 0) { fail(id(svc), "selector matches no workload"); continue; }
  for (const p of svc.spec.ports ?? []) {
    if (typeof p.targetPort === "string" && !targets.some((w) => w.spec.template.spec.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort)))) {
      fail(id(svc), `targetPort ${p.targetPort} is not a named port of the selected pods`);
    }
  }
}
for (const h of byKind("HorizontalPodAutoscaler")) {
  const t = h.spec.scaleTargetRef;
  if (!find(t.kind, t.name)) fail(id(h), `scaleTargetRef ${t.kind}/${t.name} not rendered`);
  if (!(h.spec.minReplicas >= 2)) fail(id(h), "minReplicas must be >= 2");
}
for (const p of byKind("PodDisruptionBudget")) {
  if (!workloads.some((w) => matches(p.spec.selector?.matchLabels, w.spec.template.metadata.labels))) fail(id(p), "selector matches no workload");
}
for (const np of byKind("NetworkPolicy")) {
  if (!workloads.some((w) => matches(np.spec.podSelector?.matchLabels, w.spec.template.metadata.labels))) fail(id(np), "podSelector matches no workload");
}
const gwNp = byKind("NetworkPolicy").find((np) => gw && matches(np.spec.podSelector?.matchLabels, gw.spec.template.metadata.labels));
if (!gwNp) fail("NetworkPolicy", "none selects the gateway pods");
else {
  const eg = (gwNp.spec.egress ?? []).flatMap((r) => r.ports ?? []).map((p) => p.port);
  for (const port of [6379, 53, 443]) if (!eg.includes(port)) fail(id(gwNp), `egress must allow port ${port}`);
  if (!(gwNp.spec.ingress ?? []).flatMap((r) => r.ports ?? []).some((p) => p.port === 8080)) fail(id(gwNp), "ingress must allow port 8080");
}
for (const sm of byKind("ServiceMonitor")) {
  const svcs = byKind("Service").filter((s) => matches(sm.spec.selector?.matchLabels, s.metadata.labels));
  if (svcs.length === 0) fail(id(sm), "selector matches no Service");
  for (const ep of sm.spec.endpoints ?? []) {
    if (ep.path !== "/metrics") fail(id(sm), "endpoint path must be /metrics");
    if (!svcs.some((s) => s.spec.ports.some((p) => p.name === ep.port))) fail(id(sm), `endpoint port ${ep.port} is not a named port of the selected Service`);
  }
}

// Redis: StatefulSet with AOF, a headless governing Service and a PVC template.
for (const ss of byKind("StatefulSet")) {
  const where = id(ss);
  const gov = find("Service", ss.spec.serviceName);
  if (!gov || gov.spec.clusterIP !== "None") fail(where, `serviceName ${ss.spec.serviceName} must be a headless Service`);
  if (!(ss.spec.volumeClaimTemplates ?? []).length) fail(where, "volumeClaimTemplates required");
  const conf = (ss.spec.template.spec.volumes ?? []).filter((v) => v.configMap).map((v) => Object.values(find("ConfigMap", v.configMap.name)?.data ?? {}).join("\n")).join("\n");
  const args = [...(ss.spec.template.spec.containers[0].command ?? []), ...(ss.spec.template.spec.containers[0].args ?? [])].join(" ");
  const all = `${conf}\n${args}`;
  if (/redis/.test(ss.metadata.name)) {
    if (!/^\s*appendonly\s+yes\b/m.test(all) && !/--appendonly\s+yes/.test(all)) fail(where, "Redis must run with appendonly yes");
    if (!/^\s*appendfsync\s+everysec\b/m.test(all) && !/--appendfsync\s+everysec/.test(all)) fail(where, "Redis must run with appendfsync everysec");
    if (!/^\s*maxmemory-policy\s+noeviction\b/m.test(all)) fail(where, "Redis must use maxmemory-policy noeviction (billing data must never be evicted)");
  }
}

// Grafana dashboard ConfigMap.
const dashCms = byKind("ConfigMap").filter((cm) => cm.metadata.labels?.grafana_dashboard === "1");
if (dashCms.length === 0) fail("ConfigMap", "no Grafana dashboard ConfigMap labelled grafana_dashboard: \"1\"");
for (const cm of dashCms) for (const [k, v] of Object.entries(cm.data ?? {})) {
  try { const d = JSON.parse(v); if (!d.uid || !Array.isArray(d.panels)) fail(id(cm), `${k} is not a dashboard model`); }
  catch (e) { fail(id(cm), `${k} is not valid JSON: ${e.message}`); }
}

// The ConfigMap's pricing.json is a copy of the image's default (kustomize cannot load files
// outside k8s/). A difference is allowed (operators change prices) but worth a look.
try {
  const repo = process.env.REPO;
  const a = JSON.parse(readFileSync(`${repo}/k8s/pricing.json`, "utf8"));
  const b = JSON.parse(readFileSync(`${repo}/src/TokenGateway/pricing.json`, "utf8"));
  if (JSON.stringify(a.models) !== JSON.stringify(b.models)) console.log("   WARN: k8s/pricing.json differs from src/TokenGateway/pricing.json (the image's default prices)");
} catch { /* one of them is absent */ }

const kinds = {};
for (const o of objs) kinds[o.kind] = (kinds[o.kind] ?? 0) + 1;
console.log(`   objects: ${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ")}`);
if (errors.length) {
  for (const e of errors) console.error(`FAIL ${e}`);
  console.error(`${errors.length} error(s)`);
  process.exit(1);
}
console.log(`OK: ${objs.length} objects valid (schema, strict fields, policy)`);
NODE
