// Generates the differential corpus: a few thousand texts aimed at what broke other tiktoken ports
// (prose in many scripts, code, numbers, whitespace runs, emoji and astral letters, special-token
// text, lone surrogates, random Unicode), with the ids tiktoken@1.0.22 (OpenAI's Rust tiktoken
// compiled to WASM) gives each text with encode_ordinary, for o200k_base and cl100k_base.
//
// Usage (from this folder): npm install && node generate-differential.mjs
//   -> tests/TokenGateway.Tokenizers.Tests/Corpus/differential/corpus.tgdiff.br
//
// Deterministic: every category draws from its own seeded PRNG (mulberry32), so rerunning gives the
// same bytes, and changing one category leaves the others as they were. Some categories slice the
// committed Corpus/*.txt files, so editing those files changes the slices (rerun this script then).
//
// Lone surrogates. A JavaScript string is UTF-16 and may hold unpaired surrogates. tiktoken's binding
// transcodes the string to UTF-8 with TextEncoder, which writes U+FFFD for each unpaired surrogate; the
// script checks that for every such text (ids equal those of text.toWellFormed()). The file stores
// every text as its exact UTF-16 code units, so the C# test passes the very same string (unpaired
// surrogates included) to the tokenizer, which must make the same replacement. JSON is not used
// because System.Text.Json refuses to read escaped unpaired surrogates.
//
// Binary layout before Brotli compression (integers little-endian, "varint" = unsigned LEB128):
//   "TGDIFF" magic, byte version = 1
//   uint16 length + UTF-8 text: the oracle ("tiktoken@1.0.22 encode_ordinary")
//   byte categoryCount; per category: byte length + ASCII name
//   uint32 textCount; per text: byte category index, varint length in UTF-16 code units, the code units
//   byte encodingCount; per encoding: byte length + ASCII name, then per text: varint id count, varint ids
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants } from "node:zlib";
import { isDeepStrictEqual } from "node:util";
import { get_encoding } from "tiktoken";

const here = dirname(fileURLToPath(import.meta.url));
const corpusDir = join(here, "..", "..", "tests", "TokenGateway.Tokenizers.Tests", "Corpus");
const outFile = join(corpusDir, "differential", "corpus.tgdiff.br");
const pkg = JSON.parse(readFileSync(join(here, "node_modules", "tiktoken", "package.json"), "utf8"));
if (pkg.version !== "1.0.22") throw new Error(`expected tiktoken 1.0.22, found ${pkg.version}`);
const ENCODINGS = ["o200k_base", "cl100k_base"];

// ---------------------------------------------------------------------------------------------
// Randomness

function mulberry32(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  constructor(seed) { this.next = mulberry32(seed); }
  int(lo, hi) { return lo + Math.floor(this.next() * (hi - lo + 1)); } // inclusive
  chance(p) { return this.next() < p; }
  pick(items) { return items[Math.floor(this.next() * items.length)]; }
  weighted(pairs) { // [[weight, value], ...]
    let x = this.next() * pairs.reduce((s, p) => s + p[0], 0);
    for (const [w, v] of pairs) if ((x -= w) < 0) return v;
    return pairs[pairs.length - 1][1];
  }
  times(n, f) { let s = ""; for (let i = 0; i < n; i++) s += f(i); return s; }
  // A code point in [lo, hi] that is assigned, not a surrogate and not private use (per Node's Unicode data).
  codePoint(lo, hi) {
    for (;;) {
      const ch = String.fromCodePoint(this.int(lo, hi));
      if (!UNASSIGNED.test(ch)) return ch;
    }
  }
}

const UNASSIGNED = /^[\p{Cn}\p{Cs}\p{Co}]$/u;
const cps = (s) => Array.from(s);
const head = (s, n) => cps(s).slice(0, n).join(""); // whole code points, so no pair is cut

// A slice of a committed corpus file: whole code points, `minLen`..`maxLen` of them.
const files = {};
function source(name) { return (files[name] ??= cps(readFileSync(join(corpusDir, name), "utf8"))); }
function slice(rng, name, minLen, maxLen) {
  const all = source(name);
  const len = Math.min(all.length, rng.int(minLen, maxLen));
  const start = rng.int(0, all.length - len);
  return all.slice(start, start + len).join("");
}

// ---------------------------------------------------------------------------------------------
// Material

const WORDS = (
  "the of and to a in is it you that he was for on are with as I his they be at one have this from or had by " +
  "word but what some we can out other were all there when up use your how said an each she which do their time if " +
  "will way about many then them write would like so these her long make thing see him two has look more day could go " +
  "come did number sound no most people my over know water than call first who may down side been now find any new " +
  "work part take get place made live where after back little only round man year came show every good me give our " +
  "under name very through just form sentence great think say help low line differ turn cause much mean before move " +
  "right boy old too same tell does set three want air well also play small end put home read hand port large spell " +
  "add even land here must big high such follow act why ask men change went light kind off need house picture try us " +
  "again animal point mother world near build self earth father tokenizer gateway metering latency throughput billing " +
  "invoice quota reservation idempotency serialization asynchronous internationalization antidisestablishmentarianism " +
  "floccinaucinihilipilification pneumonoultramicroscopicsilicovolcanoconiosis Mississippi Massachusetts rhythm " +
  "queueing onomatopoeia sesquipedalian accommodate Wednesday colonel yacht"
).split(" ");
const CONTRACTIONS = ["don't", "can't", "won't", "it's", "I'm", "you're", "they've", "we'll", "she'd", "isn't",
  "IT'S", "WE'LL", "THEY'RE", "I'D", "You'Re", "y'all", "o'clock", "rock'n'roll", "'tis", "ma'am", "it’s", "don’t"];
const PUNCT_END = [".", ".", ".", "!", "?", "?!", "...", "…", ";", ":", "", " —", "!!!"];

const LANGUAGES = {
  de: ["Die Straßenbahn fährt über die Brücke.", "Größere Änderungen benötigen eine Überprüfung.", "Ärgerlicherweise schloss das Geschäft früh.", "Donaudampfschifffahrtsgesellschaftskapitän"],
  fr: ["L'élève a oublié ses cahiers à l'école.", "Où est la bibliothèque, s'il vous plaît ?", "Ça coûte vingt-cinq euros, n'est-ce pas ?", "Les œufs et le cœur de l'être."],
  es: ["¿Dónde está la estación de tren?", "El niño comió piña y jamón.", "¡Qué día tan bonito hace hoy!", "La cigüeña voló sobre el pingüino."],
  pt: ["A informação não está disponível.", "Você já comeu pão de queijo?", "As lições são difíceis, mas úteis."],
  it: ["Perché non è già arrivato?", "La città è più bella di sera.", "Un caffè, per favore."],
  nl: ["De vrachtwagenchauffeur drinkt koffie.", "IJsselmeer en ijsjes zijn niet hetzelfde."],
  pl: ["Zażółć gęślą jaźń.", "Chrząszcz brzmi w trzcinie w Szczebrzeszynie."],
  cs: ["Příliš žluťoučký kůň úpěl ďábelské ódy.", "Strč prst skrz krk."],
  tr: ["İstanbul'da yağmur yağıyor.", "Çekoslovakyalılaştıramadıklarımızdanmışsınız.", "Işık ılık süt içti."],
  vi: ["Tiếng Việt có nhiều dấu thanh.", "Tôi không biết người đó là ai.", "Phở bò rất ngon."],
  ro: ["Știința și înțelepciunea își au rădăcinile în școală."],
  hu: ["Árvíztűrő tükörfúrógép.", "Megszentségteleníthetetlenségeskedéseitekért"],
  fi: ["Hyvää huomenta, mitä kuuluu?", "Lentokonesuihkuturbiinimoottoriapumekaanikkoaliupseerioppilas"],
  is: ["Þjóðin á sér langa sögu.", "Ævintýrið endaði vel."],
  ru: ["Съешь же ещё этих мягких французских булок, да выпей чаю.", "Привет, как дела?", "ВЫСОКООБОРОТИСТЫЙ двигатель"],
  uk: ["Чуєш їх, доцю, га? Кумедна ж ти, прощайся без ґольфів!", "Ґанок і їжак."],
  el: ["Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.", "Καλημέρα σας, τι κάνετε;", "ΑΘΗΝΑ και Θεσσαλονίκη"],
  ar: ["مرحبا بكم في المدينة.", "اللغة العربية جميلة جداً.", "الرقم ١٢٣٤٥ مكتوب بالأرقام العربية.", "كَتَبَ الطَّالِبُ الدَّرْسَ"],
  he: ["שלום עולם, מה שלומך?", "הספר נמצא על השולחן."],
  fa: ["زبان فارسی بسیار زیباست.", "کتاب‌ها روی میز هستند."],
  hi: ["नमस्ते, आप कैसे हैं?", "हिन्दी भारत की राजभाषा है।", "क्षत्रिय और ज्ञान", "संख्या १२३४ है"],
  bn: ["আমি বাংলায় গান গাই।", "বাংলাদেশের রাজধানী ঢাকা।"],
  ta: ["தமிழ் ஒரு பழமையான மொழி.", "வணக்கம் நண்பரே"],
  th: ["ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ", "สวัสดีครับ ยินดีต้อนรับ"],
  zh: ["我们今天去公园散步吧。", "机器学习模型需要大量的数据。", "这个价格是一百二十三元。", "繁體中文與簡體中文不同。"],
  ja: ["今日はいい天気ですね。", "カタカナとひらがなと漢字を使います。", "ｶﾀｶﾅ半角もあります。", "東京都千代田区丸の内"],
  ko: ["안녕하세요, 만나서 반갑습니다.", "한국어는 한글로 씁니다.", "ㅋㅋㅋ ㅎㅎ"],
  am: ["ሰላም ለዓለም።", "አማርኛ ቋንቋ"],
  ka: ["გამარჯობა, როგორ ხარ?", "ქართული ენა"],
  hy: ["Բարև ձեզ, ինչպես եք:", "Հայերեն լեզու"],
  sw: ["Habari za asubuhi, rafiki yangu."],
  km: ["សួស្តី ពិភពលោក"],
  my: ["မင်္ဂလာပါ ကမ္ဘာ"],
};
const LANGUAGE_CODES = Object.keys(LANGUAGES);

const SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>",
  "<|im_start|>", "<|im_end|>", "<|im_sep|>", "<|startoftext|>"];
const LOOKALIKES = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "[INST]", "[/INST]",
  "<<SYS>>", "<</SYS>>", "</s>", "<s>", "<unk>", "<pad>", "[CLS]", "[SEP]", "[MASK]", "<｜end▁of▁sentence｜>",
  "<｜begin▁of▁sentence｜>", "<|", "|>", "<||>", "<|>", "|<|>|", "< |endoftext| >", "<|ENDOFTEXT|>", "<|EndOfText|>",
  "<|endoftext", "endoftext|>", "<|end of text|>", "<|endoftext|", "|endoftext|", "&lt;|endoftext|&gt;",
  "\\u003c|endoftext|\\u003e", "<\\|endoftext\\|>", "＜|endoftext|＞"];

const WHITESPACE = [" ", " ", " ", "  ", "\t", "\n", "\n", "\r\n", "\r", "\u000b", "\u000c", "\u0085", "\u00a0",
  "\u1680", "\u2000", "\u2002", "\u2003", "\u2007", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f",
  "\u3000", "\u200b", "\u2060", "\ufeff", "\u180e"]; // the last four are not White_Space (Cf)

const EMOJI = ["😀", "😂", "🥲", "🤖", "🚀", "🎉", "🔥", "✅", "❌", "⭐", "❤️", "❤︎", "♥", "☺️", "✍🏽", "👍🏿",
  "👋🏻", "🙏🏼", "👨‍👩‍👧‍👦", "👩🏽‍💻", "🧑‍🚀", "🏳️‍🌈", "🏴‍☠️", "🐻‍❄️", "❤️‍🔥", "🫠", "🪿", "🇺🇸", "🇯🇵",
  "🇩🇪", "🇺🇦", "🇧🇷", "1️⃣", "#️⃣", "*️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🏴󠁧󠁢󠁷󠁬󠁳󠁿", "🀄", "🃏", "🂡", "𝄞", "𝄢", "🅰️", "🆗",
  "Ⓜ️", "©️", "™", "🔟", "💯", "🕐"];
// Astral ranges with letters, marks and digits: [first, last, note]
const ASTRAL = [
  [0x1d400, 0x1d7ff, "math alphanumerics (Lu/Ll/Nd, with holes)"],
  [0x20000, 0x2a6df, "CJK Ext B (Lo)"],
  [0x2a700, 0x2b73f, "CJK Ext C (Lo)"],
  [0x2f800, 0x2fa1d, "CJK compatibility supplement (Lo)"],
  [0x10400, 0x1044f, "Deseret (Lu/Ll pairs)"],
  [0x104b0, 0x104fb, "Osage (Lu/Ll)"],
  [0x1e900, 0x1e959, "Adlam (Lu/Ll, Mn, Nd)"],
  [0x10330, 0x1034a, "Gothic (Lo, Nl)"],
  [0x10300, 0x1032f, "Old Italic"],
  [0x10000, 0x1007f, "Linear B"],
  [0x13000, 0x1342e, "Egyptian hieroglyphs (Lo)"],
  [0x12000, 0x12399, "Cuneiform (Lo)"],
  [0x11000, 0x1107f, "Brahmi (Mc/Mn, Nd)"],
  [0x1f100, 0x1f1ff, "enclosed alphanumeric supplement (No, So)"],
  [0x10100, 0x1013f, "Aegean numbers (No)"],
  [0x1d100, 0x1d1ff, "musical symbols (So, Mc, Mn)"],
];
const ASTRAL_WORDS = ["𝒜𝒷𝒸", "𝐇𝐞𝐥𝐥𝐨", "𝕎𝕠𝕣𝕝𝕕", "𝔉𝔯𝔞𝔨𝔱𝔲𝔯", "𝗯𝗼𝗹𝗱", "𝘪𝘵𝘢𝘭𝘪𝘤", "𝚖𝚘𝚗𝚘", "𝟏𝟐𝟑", "𝟘𝟙𝟚", "𠀀𠀁𠀂", "𪚥", "𩸽",
  "𠮷野家", "𐐔𐐯𐑅𐐨𐑉𐐯𐐻", "𐌷𐌰𐌹𐌻𐍃", "𞤀𞤢𞤣𞤤𞤢𞤥", "𐒰𐓘𐓣𐓟"];

const IDENT_PARTS = ["user", "id", "count", "token", "buffer", "http", "json", "parse", "value", "index", "max", "min",
  "request", "response", "handler", "async", "cache", "key", "node", "tree", "price", "quota", "stream", "utf8", "x", "i"];

// ---------------------------------------------------------------------------------------------
// Generators: each returns one text

function sentence(rng) {
  const n = rng.int(3, 18);
  const words = [];
  for (let i = 0; i < n; i++) {
    let w = rng.chance(0.08) ? rng.pick(CONTRACTIONS) : rng.pick(WORDS);
    if (i === 0 || rng.chance(0.06)) w = w[0].toUpperCase() + w.slice(1);
    if (rng.chance(0.03)) w = w.toUpperCase();
    if (rng.chance(0.02)) w = `"${w}"`;
    if (rng.chance(0.02)) w = `(${w})`;
    if (rng.chance(0.015)) w = `‘${w}’`;
    if (rng.chance(0.03)) w += rng.pick([",", ",", ";", ":", " -", " –", "—"]);
    if (rng.chance(0.02)) w = String(rng.int(0, 2100));
    words.push(w);
  }
  return words.join(" ") + rng.pick(PUNCT_END);
}

function englishProse(rng) {
  if (rng.chance(0.45)) return slice(rng, "english-prose.txt", 20, 1200);
  const paragraphs = rng.int(1, 3);
  const out = [];
  for (let p = 0; p < paragraphs; p++) out.push(rng.times(rng.int(1, 5), (i) => (i ? " " : "") + sentence(rng)));
  return out.join(rng.pick(["\n\n", "\n", " ", "\r\n\r\n"]));
}

function multilingualProse(rng) {
  if (rng.chance(0.15)) return slice(rng, rng.pick(["arabic-hindi.txt", "cjk.txt", "mixed-scripts.txt", "contractions-and-marks.txt"]), 5, 400);
  const mixed = rng.chance(0.3);
  const home = rng.pick(LANGUAGE_CODES);
  let text = rng.times(rng.int(1, 6), (i) => (i ? rng.pick([" ", " ", "\n", ""]) : "") + rng.pick(LANGUAGES[mixed ? rng.pick(LANGUAGE_CODES) : home]));
  const form = rng.weighted([[70, null], [15, "NFD"], [8, "NFKD"], [7, "NFKC"]]);
  if (form) text = text.normalize(form);
  if (rng.chance(0.1)) text = text.toUpperCase();
  return text;
}

function identifier(rng) {
  const parts = Array.from({ length: rng.int(1, 4) }, () => rng.pick(IDENT_PARTS));
  switch (rng.int(0, 4)) {
    case 0: return parts.join("_");
    case 1: return parts.map((p, i) => (i ? p[0].toUpperCase() + p.slice(1) : p)).join("");
    case 2: return parts.map((p) => p[0].toUpperCase() + p.slice(1)).join("");
    case 3: return parts.join("_").toUpperCase();
    default: return parts.join("") + (rng.chance(0.5) ? rng.int(0, 99) : "");
  }
}

function codeSnippet(rng) {
  if (rng.chance(0.5)) {
    const file = rng.pick(["code-csharp.txt", "code-python.txt", "code-javascript.txt", "json.txt", "urls-and-paths.txt"]);
    return slice(rng, file, 10, 1500);
  }
  const indentUnit = rng.pick(["  ", "    ", "\t"]);
  const nl = rng.chance(0.15) ? "\r\n" : "\n";
  const a = identifier(rng), b = identifier(rng), c = identifier(rng);
  const n = rng.int(0, 100000);
  const templates = [
    () => `function ${a}(${b}, ${c}) {${nl}${indentUnit}if (${b} === null || ${c} !== undefined) return ${n};${nl}${indentUnit}const ${a}_ = ${b}?.${c} ?? [...${c}];${nl}${indentUnit}return ${a}_ >>> ${rng.int(0, 31)};${nl}}${nl}`,
    () => `def ${a}(${b}: int, ${c}: str = "") -> dict[str, int]:${nl}${indentUnit}"""Return ${b} ** 2."""${nl}${indentUnit}return {${c}!r: ${b} ** 2, 'n': ${n}}${nl}`,
    () => `public static async Task<int> ${a[0].toUpperCase() + a.slice(1)}Async(${b} ${c}, CancellationToken ct)${nl}{${nl}${indentUnit}var x = await ${c}.${b}(ct).ConfigureAwait(false);${nl}${indentUnit}return x is > ${n} ? x : -1;${nl}}${nl}`,
    () => `SELECT ${a}, COUNT(*) AS n FROM ${b} WHERE ${c} >= ${n} AND ${a} <> 'x''y' GROUP BY 1 ORDER BY n DESC;${nl}`,
    () => `<div class="${a}" data-id="${n}"><span>${b} &amp; ${c}</span><!-- ${a} --></div>${nl}`,
    () => `for (let ${a} = 0; ${a} < ${n}; ${a}++) { ${b}[${a}] ^= ${c} << 2; }${nl}`,
    () => `#include <stdio.h>${nl}int main(void) { printf("%d\\n", ${n}); return 0; }${nl}`,
    () => `${a}=$(grep -E '^[a-z]+$' ${b}.txt | wc -l) && echo "$${a}" >> /tmp/${c}.log 2>&1${nl}`,
    () => `{"${a}": ${n}, "${b}": [${rng.int(0, 9)}, ${rng.int(0, 99)}.${rng.int(0, 99)}, null, true], "${c}": "\\u00e9\\n"}${nl}`,
    () => `fn ${a}<'a>(${b}: &'a str) -> Result<Vec<u8>, Box<dyn Error>> { Ok(${b}.bytes().collect::<Vec<_>>()) }${nl}`,
    () => `const re = /^(?:[a-z0-9!#$%&'*+/=?^_\`{|}~-]+)@${a}\\.com$/iu;${nl}`,
    () => `${indentUnit.repeat(rng.int(0, 4))}// TODO(${a}): ${sentence(rng)}${nl}`,
    () => `    ${a}  =   ${b}   +   ${c}    ;   ${nl}`,
  ];
  return rng.times(rng.int(1, 4), () => rng.pick(templates)());
}

function digits(rng, n) { return rng.times(n, (i) => String(i === 0 && n > 1 ? rng.int(1, 9) : rng.int(0, 9))); }

function numbers(rng) {
  const forms = [
    () => digits(rng, rng.int(1, 40)),
    () => Number(digits(rng, rng.int(4, 13))).toLocaleString("en-US"),
    () => digits(rng, rng.int(1, 3)) + rng.times(rng.int(1, 4), () => rng.pick(["\u00a0", "\u202f", " ", ".", "'"]) + digits(rng, 3).padStart(3, "0")),
    () => `${rng.chance(0.3) ? "-" : ""}${digits(rng, rng.int(1, 6))}.${digits(rng, rng.int(1, 12))}`,
    () => `${rng.int(1, 9)}.${digits(rng, 3)}e${rng.pick(["", "+", "-"])}${rng.int(0, 308)}`,
    () => `0x${rng.int(0, 0xffffffff).toString(16).toUpperCase()}`,
    () => `0b${rng.int(0, 65535).toString(2)}`,
    () => `v${rng.int(0, 20)}.${rng.int(0, 99)}.${rng.int(0, 999)}${rng.chance(0.3) ? "-rc." + rng.int(1, 9) : ""}`,
    () => `${rng.int(1900, 2100)}-${String(rng.int(1, 12)).padStart(2, "0")}-${String(rng.int(1, 28)).padStart(2, "0")}T${String(rng.int(0, 23)).padStart(2, "0")}:${String(rng.int(0, 59)).padStart(2, "0")}:${String(rng.int(0, 59)).padStart(2, "0")}.${digits(rng, 3)}Z`,
    () => `+${rng.int(1, 99)} (${digits(rng, 3)}) ${digits(rng, 3)}-${digits(rng, 4)}`,
    () => `${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(0, 255)}:${rng.int(1, 65535)}`,
    () => `${rng.pick(["$", "€", "£", "¥", "₹", "₩", "₿", "USD ", ""])}${Number(digits(rng, rng.int(1, 7))).toLocaleString("en-US")}.${digits(rng, 2).padStart(2, "0")}${rng.pick(["", "%", " USD", "€", "k", "M"])}`,
    () => `${rng.int(1, 99)}${rng.pick(["st", "nd", "rd", "th", "%", "px", "ms", "GB", "x", "°C", "km²"])}`,
    () => rng.pick(["½", "¾", "⅓", "x²", "10³", "H₂O", "Ⅻ", "ⅷ", "①②③", "⑴", "⒈", "𝟏𝟐𝟑𝟒𝟓", "𝟎.𝟓", "௧௨௩", "᭑᭒"]),
    () => rng.times(rng.int(1, 9), () => String.fromCodePoint(rng.pick([0x660, 0x6f0, 0x966, 0x9e6, 0xe50, 0xff10, 0x1d7ce, 0x1d7d8, 0x104a0, 0x1e950]) + rng.int(0, 9))),
    () => `${identifier(rng)}${digits(rng, rng.int(1, 8))}${identifier(rng)}`,
    () => rng.times(rng.int(2, 8), () => rng.pick(["a", "B", "_", "-", ""]) + digits(rng, rng.int(1, 5))),
    () => `${digits(rng, rng.int(1, 5))}/${digits(rng, rng.int(1, 5))} = ${(rng.int(0, 1e6) / 997).toFixed(rng.int(0, 9))}`,
  ];
  return rng.times(rng.int(1, 8), (i) => (i ? rng.pick([" ", ", ", "\n", "; ", "", " and "]) : "") + rng.pick(forms)());
}

function whitespace(rng) {
  const ws = () => rng.times(rng.int(1, 4), () => rng.pick(WHITESPACE));
  const word = () => rng.pick([rng.pick(WORDS), String(rng.int(0, 999)), rng.pick(["!", "...", "//", "'s", "{", "}", "-", "😀", "中文", "\u0301"])]);
  switch (rng.int(0, 5)) {
    case 0: return ws() + (rng.chance(0.7) ? ws() : ""); // whitespace only (also empty-ish short ones)
    case 1: return " ".repeat(rng.int(1, 300)) + word() + " ".repeat(rng.int(0, 5));
    case 2: return rng.times(rng.int(2, 30), () => (rng.chance(0.5) ? ws() : word()));
    case 3: return rng.times(rng.int(1, 10), () => word() + rng.pick(["\n", "\n\n", "\n  \n", "   \n", "\r\n", "\t\n", " \n\t "]) + rng.pick(["", "  ", "\t", "    "]));
    case 4: return rng.pick(["\t", "  ", " \u00a0"]).repeat(rng.int(1, 40)) + word() + rng.pick(WHITESPACE).repeat(rng.int(1, 60));
    default: return rng.times(rng.int(2, 12), () => word() + rng.pick(WHITESPACE).repeat(rng.int(1, 12)));
  }
}

function emojiAstral(rng) {
  const piece = () => rng.weighted([
    [5, () => rng.pick(EMOJI)],
    [3, () => rng.pick(ASTRAL_WORDS)],
    [4, () => { const [lo, hi] = rng.pick(ASTRAL); return rng.times(rng.int(1, 6), () => rng.codePoint(lo, hi)); }],
    [2, () => rng.pick(WORDS)],
    [1, () => String(rng.int(0, 9999))],
  ])();
  return rng.times(rng.int(1, 14), (i) => (i ? rng.pick([" ", " ", "", "", "\n", ", ", "-", "'s "]) : "") + piece());
}

function specialTokenText(rng) {
  const special = () => (rng.chance(0.6) ? rng.pick(SPECIALS) : rng.pick(LOOKALIKES));
  switch (rng.int(0, 4)) {
    case 0: { // ChatML-like conversation
      const turns = rng.int(1, 4);
      return rng.times(turns, () => `<|im_start|>${rng.pick(["system", "user", "assistant", "tool"])}${rng.pick(["\n", "<|im_sep|>", " "])}${sentence(rng)}<|im_end|>${rng.pick(["\n", ""])}`)
        + (rng.chance(0.5) ? "<|im_start|>assistant\n" : "");
    }
    case 1: // fill-in-the-middle
      return `<|fim_prefix|>${head(codeSnippet(rng), 200)}<|fim_suffix|>${identifier(rng)}<|fim_middle|>`;
    case 2: // specials glued to words, repeated, or cut
      return rng.times(rng.int(1, 10), () => rng.pick(["", " ", "\n", rng.pick(WORDS), rng.pick(WORDS) + " "]) + special());
    case 3: { // a special with one character changed or removed
      const s = rng.pick(SPECIALS);
      const i = rng.int(0, s.length - 1);
      const edited = rng.chance(0.5) ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + rng.pick([" ", "|", "<", ">", "_", "E", "\u200b"]) + s.slice(i);
      return `${sentence(rng)} ${edited} ${s}`;
    }
    default:
      return `${sentence(rng)}${special()}${special()}${rng.pick(["", "\n", " "])}${sentence(rng)}`;
  }
}

function loneSurrogates(rng) {
  const high = () => String.fromCharCode(rng.int(0xd800, 0xdbff));
  const low = () => String.fromCharCode(rng.int(0xdc00, 0xdfff));
  const lone = () => rng.pick([high, low, () => low() + high(), () => high() + high(), () => low() + low(), () => high() + "😀", () => "😀".slice(0, 1), () => "😀".slice(1)])();
  const around = () => rng.pick(["", " ", "  ", "a", "A", "word", " word", "'s", "1", "123", "!", "\n", "\r\n", "\t", "中", "😀", "𝒜", "\u0301", "<|endoftext|>", "é", "\ufffd"]);
  if (rng.chance(0.25)) {
    // Cut another text at arbitrary UTF-16 positions, as a client that truncates by code units would.
    const text = rng.pick([emojiAstral, multilingualProse, englishProse])(rng);
    const a = rng.int(0, text.length), b = rng.int(0, text.length);
    return text.slice(Math.min(a, b), Math.max(a, b)) + lone();
  }
  return rng.times(rng.int(1, 8), () => around() + lone() + around());
}

// Random code points from long-assigned blocks (weights favour ASCII and the big scripts).
const RANGES = [
  [0x20, 0x7e, 30], [0xa0, 0x24f, 8], [0x250, 0x2ff, 2], [0x300, 0x36f, 4], [0x370, 0x3ff, 3], [0x400, 0x4ff, 4],
  [0x530, 0x58f, 1], [0x5d0, 0x5ea, 2], [0x600, 0x6ff, 4], [0x900, 0x97f, 4], [0xe00, 0xe7f, 2], [0x10a0, 0x10ff, 1],
  [0x16a0, 0x16f0, 1], [0x2000, 0x206f, 3], [0x20a0, 0x20c0, 1], [0x2100, 0x218b, 2], [0x2190, 0x23ff, 2],
  [0x2460, 0x24ff, 1], [0x2500, 0x27bf, 2], [0x3000, 0x30ff, 4], [0x3130, 0x318f, 1], [0x4e00, 0x9fa5, 6],
  [0xac00, 0xd7a3, 4], [0xff01, 0xff9f, 2], [0x10330, 0x1034a, 1], [0x1d400, 0x1d6a5, 2], [0x1d7ce, 0x1d7ff, 1],
  [0x1f300, 0x1f64f, 4], [0x1f900, 0x1f9ff, 2], [0x1f1e6, 0x1f1ff, 1], [0x20000, 0x2a6d6, 2],
];
const EXTRA = ["\n", "\r\n", "\t", "  ", "   ", "'s", "'S", "'ll", "'ſ", "'RE", "\u200d", "\ufe0f", "'", "/", "\r"];

function randomUnicode(rng) {
  const n = rng.weighted([[6, rng.int(1, 8)], [3, rng.int(9, 120)], [1, rng.int(121, 600)]]);
  return rng.times(n, () => {
    if (rng.chance(0.08)) return rng.pick(EXTRA);
    const [lo, hi] = rng.weighted(RANGES.map((r) => [r[2], r]));
    return rng.codePoint(lo, hi);
  });
}

// Any assigned code point of planes 0, 1, 2 and 14 (controls, format characters, tags, variation
// selectors, every script), uniformly within the plane picked.
function randomCodePoints(rng) {
  const n = rng.int(1, 200);
  return rng.times(n, () => rng.weighted([
    [10, () => rng.codePoint(0x0000, 0xffff)],
    [5, () => rng.codePoint(0x10000, 0x1ffff)],
    [2, () => rng.codePoint(0x20000, 0x2ffff)],
    [1, () => rng.codePoint(0xe0000, 0xe01ef)],
    [3, () => rng.pick([" ", "a", "Z", "'s", "1", "\n"])],
  ])());
}

const CASE_EDGES = ["HTTPServerError", "XMLHttpRequest", "iPhone", "macOS", "ÉCOLEécole", "ǅungla", "ǲemlja", "ʰello",
  "ABCdef", "abcDEF", "aBcDeF", "McDonald's", "O'Neill", "IT'S", "it'ſ", "'LL", "'Ll", "we'VE", "x'd", "'", "''", "'''s",
  "don’t", "donʼt", "don′t", "Straße", "STRASSE", "İstanbul", "ǈubljana", "ﬁnance", "Ⅻth", "ⓐⓑ", "ᵃᵇᶜ", "ꞱꞲ", "ΣΑΣ", "ὈΔΥΣΣΕΎΣ",
  "ᾼ", "a\u0301b\u0302C\u0303", "A\u0308\u0304", "\u0301abc", "k\u0903a", "中Abc", "Aア", "aア", "ーabc", "ab1cd2", "__init__",
  "/usr/local/bin", "C:\\Users\\x", "a/b//c///", "//\n\n", " //\n", "x\n/", "??!!", "<<>>", "'s'S'ſ"];

function mixed(rng) {
  const gens = [englishProse, multilingualProse, codeSnippet, numbers, whitespace, emojiAstral, specialTokenText, randomUnicode];
  return rng.times(rng.int(2, 8), () => (rng.chance(0.35) ? rng.pick(CASE_EDGES) : head(rng.pick(gens)(rng), 300)) + rng.pick(["", "", " ", "\n", "'s", "’"]));
}

function long(rng, i) {
  // A few long texts: long single pieces (the C# merge loop switches algorithm above 256 bytes) and
  // long mixtures.
  const lower = "abcdefghijklmnopqrstuvwxyz";
  const b64 = lower + lower.toUpperCase() + "0123456789+/";
  const runs = [
    () => rng.times(rng.int(300, 3000), () => rng.pick(lower)),
    () => rng.times(rng.int(300, 3000), () => rng.pick(b64)),
    () => rng.times(rng.int(300, 1500), () => rng.codePoint(0x4e00, 0x9fa5)),
    () => rng.times(rng.int(300, 1500), () => rng.codePoint(0x20000, 0x2a6d6)),
    () => rng.times(rng.int(300, 2000), () => rng.pick(["😀", "🚀", "👍🏽", "🇯🇵", "❤️"])),
    () => " ".repeat(rng.int(300, 4000)) + rng.pick(WORDS),
    () => "\n".repeat(rng.int(100, 2000)) + rng.pick(WORDS),
    () => digits(rng, rng.int(300, 3000)),
    () => rng.times(rng.int(300, 2500), () => rng.pick("=-*#~+!?.,;:<>{}[]()|\\/")),
    () => "<|endoftext|>".repeat(rng.int(50, 300)),
    () => rng.times(rng.int(300, 2000), () => rng.pick(["a", "e\u0301", "o\u0308", "\u0915\u093f", "\u0627\u064e"])),
    () => rng.times(rng.int(200, 1500), () => rng.pick(["\u0e01", "\u0e32", "\u0e34", "\u0e19", "\u0e07"])),
  ];
  if (i < runs.length) return `run ${i}: ${runs[i]()}\n`;
  const gens = [englishProse, multilingualProse, codeSnippet, numbers, whitespace, emojiAstral, specialTokenText, loneSurrogates, randomUnicode];
  const target = rng.int(4000, 20000);
  let text = "";
  while (text.length < target) text += rng.pick(gens)(rng) + rng.pick(["\n", "\n\n", " ", ""]);
  return text;
}

// ---------------------------------------------------------------------------------------------
// The corpus: [category, seed, count, generator]

const CATEGORIES = [
  ["english", 1001, 450, englishProse],
  ["multilingual", 1002, 400, multilingualProse],
  ["code", 1003, 400, codeSnippet],
  ["numbers", 1004, 300, numbers],
  ["whitespace", 1005, 300, whitespace],
  ["emoji-astral", 1006, 350, emojiAstral],
  ["special-tokens", 1007, 250, specialTokenText],
  ["lone-surrogates", 1008, 250, loneSurrogates],
  ["random-unicode", 1009, 400, randomUnicode],
  ["random-codepoints", 1010, 150, randomCodePoints],
  ["mixed", 1011, 300, mixed],
  ["long", 1012, 20, long],
];

const texts = []; // { category, text }
for (const [c, [name, seed, count, generate]] of CATEGORIES.entries()) {
  const rng = new Rng(seed);
  const seen = new Set();
  while (seen.size < count) {
    const text = generate(rng, seen.size);
    if (seen.has(text)) continue; // duplicates add nothing
    seen.add(text);
    if (name !== "lone-surrogates" && name !== "long" && !text.isWellFormed()) throw new Error(`${name}: unexpected lone surrogate`);
    texts.push({ category: c, text });
  }
}
const loneCount = texts.filter((t) => !t.text.isWellFormed()).length;

const ids = {};
for (const encodingName of ENCODINGS) {
  const enc = get_encoding(encodingName);
  ids[encodingName] = texts.map(({ text }) => {
    const result = Array.from(enc.encode_ordinary(text));
    // The decision documented above, checked on the oracle itself: unpaired surrogates are U+FFFD.
    if (!text.isWellFormed() && !isDeepStrictEqual(result, Array.from(enc.encode_ordinary(text.toWellFormed())))) {
      throw new Error(`${encodingName}: a text with lone surrogates does not encode like its U+FFFD form`);
    }
    return result;
  });
  enc.free();
}

// ---------------------------------------------------------------------------------------------
// Serialization

const chunks = [];
const u8 = (v) => chunks.push(Buffer.from([v]));
const u16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); chunks.push(b); };
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); chunks.push(b); };
const ascii8 = (s) => { if (!/^[\x20-\x7e]{1,255}$/.test(s)) throw new Error(`bad name ${s}`); u8(s.length); chunks.push(Buffer.from(s, "ascii")); };
function varint(v) {
  const bytes = [];
  do { let b = v & 0x7f; v >>>= 7; if (v) b |= 0x80; bytes.push(b); } while (v);
  chunks.push(Buffer.from(bytes));
}
function utf16(s) { // code units verbatim, unpaired surrogates included
  const b = Buffer.alloc(s.length * 2);
  for (let i = 0; i < s.length; i++) b.writeUInt16LE(s.charCodeAt(i), i * 2);
  chunks.push(b);
}

chunks.push(Buffer.from("TGDIFF", "ascii"));
u8(1);
const oracle = Buffer.from(`tiktoken@${pkg.version} encode_ordinary`, "utf8");
u16(oracle.length); chunks.push(oracle);
u8(CATEGORIES.length);
for (const [name] of CATEGORIES) ascii8(name);
u32(texts.length);
for (const { category, text } of texts) { u8(category); varint(text.length); utf16(text); }
u8(ENCODINGS.length);
for (const encodingName of ENCODINGS) {
  ascii8(encodingName);
  for (const list of ids[encodingName]) { varint(list.length); for (const id of list) varint(id); }
}
const raw = Buffer.concat(chunks);
const br = brotliCompressSync(raw, {
  params: {
    [constants.BROTLI_PARAM_QUALITY]: 11,
    [constants.BROTLI_PARAM_LGWIN]: 24,
    [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
  },
});
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, br);

const codeUnits = texts.reduce((s, t) => s + t.text.length, 0);
console.log(`${texts.length} texts, ${codeUnits} UTF-16 code units, ${loneCount} with lone surrogates; raw ${raw.length} B, brotli ${br.length} B`);
for (const [c, [name]] of CATEGORIES.entries()) {
  const mine = texts.filter((t) => t.category === c);
  const tokens = ENCODINGS.map((e) => ids[e].filter((_, i) => texts[i].category === c).reduce((s, l) => s + l.length, 0));
  console.log(`  ${name.padEnd(18)} ${String(mine.length).padStart(4)} texts ${String(mine.reduce((s, t) => s + t.text.length, 0)).padStart(8)} code units  tokens o200k ${tokens[0]}, cl100k ${tokens[1]}`);
}
