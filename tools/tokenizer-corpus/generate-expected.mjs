// Generates the expected token ids for the C# tokenizer tests with the npm package tiktoken@1.0.22
// (OpenAI's Rust tiktoken compiled to WASM), the oracle the C# encoder must match id for id.
//
// Usage (from this folder): npm install && node generate-expected.mjs
//
// 1. (Re)writes the generated corpus files random-unicode.txt and long-pieces.txt (seeded, so the
//    output is reproducible).
// 2. Encodes every Corpus/*.txt with encode_ordinary (special-token text is ordinary text) for
//    o200k_base and cl100k_base and writes Corpus/expected/<encoding>.json.
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { get_encoding } from "tiktoken";

const here = dirname(fileURLToPath(import.meta.url));
const corpusDir = join(here, "..", "..", "tests", "TokenGateway.Tokenizers.Tests", "Corpus");
const pkg = JSON.parse(readFileSync(join(here, "node_modules", "tiktoken", "package.json"), "utf8"));
if (pkg.version !== "1.0.22") throw new Error(`expected tiktoken 1.0.22, found ${pkg.version}`);

// mulberry32: a tiny seeded PRNG, so regenerating gives the same corpus.
function prng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Code point ranges assigned long before Unicode 15 so that the Unicode version of the oracle's regex
// tables and of .NET's category data agree. [first, last, weight]
const RANGES = [
  [0x20, 0x7e, 30], // ASCII
  [0xa0, 0x24f, 8], // Latin-1, Latin Extended A/B (incl. U+017F long s, Lt digraphs)
  [0x250, 0x2ff, 2], // IPA, spacing modifier letters (Lm)
  [0x300, 0x36f, 4], // combining diacritics (Mn)
  [0x370, 0x3ff, 3], // Greek
  [0x400, 0x4ff, 4], // Cyrillic
  [0x530, 0x58f, 1], // Armenian
  [0x5d0, 0x5ea, 2], // Hebrew letters
  [0x600, 0x6ff, 4], // Arabic (letters, marks, Arabic-Indic digits)
  [0x900, 0x97f, 4], // Devanagari (Mc/Mn marks, digits)
  [0xe00, 0xe7f, 2], // Thai
  [0x10a0, 0x10ff, 1], // Georgian
  [0x16a0, 0x16f0, 1], // Runic (Nl letter numbers)
  [0x2000, 0x206f, 3], // general punctuation incl. Unicode spaces, ZWJ
  [0x20a0, 0x20c0, 1], // currency
  [0x2100, 0x218b, 2], // letterlike, number forms (Ⅻ)
  [0x2190, 0x23ff, 2], // arrows, math, technical
  [0x2460, 0x24ff, 1], // enclosed alphanumerics (No)
  [0x2500, 0x27bf, 2], // box drawing, dingbats
  [0x3000, 0x30ff, 4], // CJK punctuation, kana
  [0x3130, 0x318f, 1], // Hangul compatibility jamo
  [0x4e00, 0x9fa5, 6], // CJK unified
  [0xac00, 0xd7a3, 4], // Hangul syllables
  [0xff01, 0xff9f, 2], // fullwidth / halfwidth forms
  [0x10330, 0x1034a, 1], // Gothic (astral Lo, Nl)
  [0x1d400, 0x1d6a5, 2], // math alphanumerics (astral Lu/Ll)
  [0x1d7ce, 0x1d7ff, 1], // math digits (astral Nd)
  [0x1f300, 0x1f64f, 4], // emoji
  [0x1f900, 0x1f9ff, 2], // supplemental symbols
  [0x1f1e6, 0x1f1ff, 1], // regional indicators
  [0x20000, 0x2a6d6, 2], // CJK Ext B (astral Lo)
];
const EXTRA = ["\n", "\r\n", "\t", "  ", "   ", "'s", "'S", "'ll", "'ſ", "'RE", "\u200d", "\ufe0f", "'", "/", "\r"];
const unassigned = /[\p{Cn}\p{Cs}\p{Co}]/u;

function randomUnicode(rand, targetBytes) {
  const total = RANGES.reduce((s, r) => s + r[2], 0);
  let out = "";
  while (Buffer.byteLength(out) < targetBytes) {
    if (rand() < 0.08) { out += EXTRA[Math.floor(rand() * EXTRA.length)]; continue; }
    let pick = rand() * total;
    let range = RANGES[0];
    for (const r of RANGES) { if ((pick -= r[2]) < 0) { range = r; break; } }
    const cp = range[0] + Math.floor(rand() * (range[1] - range[0] + 1));
    const ch = String.fromCodePoint(cp);
    if (!unassigned.test(ch)) out += ch;
  }
  return out;
}

function longPieces(rand) {
  const pick = (alphabet, n) => Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join("");
  const lower = "abcdefghijklmnopqrstuvwxyz";
  const b64 = lower + lower.toUpperCase() + "0123456789+/";
  const cjk = Array.from({ length: 400 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919) % 20000))).join("");
  return [
    "lowercase run: " + pick(lower, 3000),
    "base64: " + pick(b64, 4000),
    "cjk run: " + pick([...cjk], 1500),
    "punctuation run: " + pick("=-*#~+!?.,;:<>{}[]()|\\/", 2500),
    "dashes: " + "-".repeat(600) + " equals " + "=".repeat(700),
    "spaces then word:" + " ".repeat(2000) + "word",
    "mixed letters with marks: " + pick(["a", "e\u0301", "o\u0308", "\u0915\u093f", "\u0627\u064e"], 1200),
  ].join("\n") + "\n";
}

mkdirSync(join(corpusDir, "expected"), { recursive: true });
writeFileSync(join(corpusDir, "random-unicode.txt"), randomUnicode(prng(20251121), 6000));
writeFileSync(join(corpusDir, "long-pieces.txt"), longPieces(prng(42)));

const files = readdirSync(corpusDir).filter((f) => f.endsWith(".txt")).sort();
for (const encodingName of ["o200k_base", "cl100k_base"]) {
  const enc = get_encoding(encodingName);
  const lines = [];
  for (const file of files) {
    const text = readFileSync(join(corpusDir, file), "utf8");
    const ids = Array.from(enc.encode_ordinary(text));
    lines.push(`    ${JSON.stringify(file)}: ${JSON.stringify(ids)}`);
  }
  enc.free();
  const json = `{\n  "generator": "tools/tokenizer-corpus/generate-expected.mjs",\n  "oracle": "tiktoken@${pkg.version} encode_ordinary",\n  "encoding": "${encodingName}",\n  "files": {\n${lines.join(",\n")}\n  }\n}\n`;
  writeFileSync(join(corpusDir, "expected", `${encodingName}.json`), json);
  console.log(`${encodingName}: ${files.length} files`);
}
