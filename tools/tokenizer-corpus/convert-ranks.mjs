// Converts the BPE rank tables shipped in the npm package tiktoken@1.0.22 (MIT) into the compact
// binary resources embedded in src/TokenGateway.Tokenizers/Data/<encoding>.tgbpe.br.
//
// Usage (from this folder): npm install && node convert-ranks.mjs
//
// Binary layout before Brotli compression (all integers little-endian):
//   "TGBPE" magic, byte version = 1
//   uint32 tokenCount; then tokenCount entries in rank order 0..tokenCount-1: byte length, bytes
//   uint32 specialCount; then per special token: byte length, UTF-8 text, uint32 id
//   uint16 patternLength, UTF-8 pat_str (kept so the tests can check the pre-tokenizer against it)
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { brotliCompressSync, constants } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "..", "src", "TokenGateway.Tokenizers", "Data");
const pkg = JSON.parse(readFileSync(join(here, "node_modules", "tiktoken", "package.json"), "utf8"));
if (pkg.version !== "1.0.22") throw new Error(`expected tiktoken 1.0.22, found ${pkg.version}`);

function parseRanks(bpeRanks) {
  // Format used by the package: lines of "! <firstRank> <base64 token> <base64 token> ...",
  // each token taking the next rank. Other line shapes are rejected rather than guessed.
  const tokens = [];
  for (const line of bpeRanks.split("\n")) {
    if (line.length === 0) continue;
    const parts = line.split(" ");
    if (parts[0] !== "!") throw new Error(`unexpected line start ${JSON.stringify(parts[0])}`);
    let rank = Number.parseInt(parts[1], 10);
    for (const b64 of parts.slice(2)) {
      if (tokens[rank] !== undefined) throw new Error(`duplicate rank ${rank}`);
      tokens[rank++] = Buffer.from(b64, "base64");
    }
  }
  for (let i = 0; i < tokens.length; i++) if (tokens[i] === undefined) throw new Error(`rank gap at ${i}`);
  return tokens;
}

mkdirSync(outDir, { recursive: true });
for (const name of ["o200k_base", "cl100k_base"]) {
  const json = require(`tiktoken/encoders/${name}.json`);
  const tokens = parseRanks(json.bpe_ranks);
  const chunks = [];
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  chunks.push(Buffer.from("TGBPE", "ascii"), Buffer.from([1]), u32(tokens.length));
  const seen = new Set();
  for (const t of tokens) {
    if (t.length === 0 || t.length > 255) throw new Error(`token length ${t.length}`);
    const key = t.toString("latin1");
    if (seen.has(key)) throw new Error("duplicate token bytes");
    seen.add(key);
    chunks.push(Buffer.from([t.length]), t);
  }
  const specials = Object.entries(json.special_tokens);
  chunks.push(u32(specials.length));
  for (const [text, id] of specials) {
    const b = Buffer.from(text, "utf8");
    chunks.push(Buffer.from([b.length]), b, u32(id));
  }
  const pat = Buffer.from(json.pat_str, "utf8");
  const len = Buffer.alloc(2); len.writeUInt16LE(pat.length);
  chunks.push(len, pat);
  const raw = Buffer.concat(chunks);
  const br = brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_LGWIN]: 24,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  writeFileSync(join(outDir, `${name}.tgbpe.br`), br);
  console.log(`${name}: ${tokens.length} ranks, ${specials.length} special, raw ${raw.length} B, brotli ${br.length} B`);
}
