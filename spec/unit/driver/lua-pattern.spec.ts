import { expect } from "chai";
import fc from "fast-check";
import { LuaError } from "../../../kong/driver/lua-values";
import { matchLuaPattern, type LuaCaptures } from "../../../kong/driver/lua-pattern";
import { decodeHex, findLuaInterpreter, LUA_HEX_FUNCTION, runLua } from "../../support/lua-interpreter";
import { skipBecause } from "../../support/skip-suite";

/** A string.match call and what it gave: the captures, no match, or Lua's error message. */
type Verdict = { captures: LuaCaptures } | { noMatch: true } | { error: string };
interface MatchCase {
  subject: string;
  pattern: string;
}

/** Reads one `<hex subject> <hex pattern>` per line and prints string.match's outcome, bytes in hex. */
const LUA_MATCH_PROGRAM = `${LUA_HEX_FUNCTION}
local function unhex(h) return (h:gsub("..", function(b) return string.char(tonumber(b, 16)) end)) end
local function report(ok, ...)
  if not ok then return "E" .. hex(tostring((...))) end
  if (...) == nil then return "N" end
  local parts = {}
  for i = 1, select("#", ...) do
    local value = select(i, ...)
    parts[i] = type(value) == "number" and ("n" .. value) or ("s" .. hex(value))
  end
  return "M" .. table.concat(parts, ",")
end
for line in io.lines() do
  local subject, pattern = line:match("^(%x*) (%x*)$")
  io.write(report(pcall(string.match, unhex(subject), unhex(pattern))), "\\n")
end`;

function parseVerdict(line: string): Verdict {
  if (line.startsWith("E")) return { error: decodeHex(line.slice(1)) };
  if (line === "N") return { noMatch: true };
  return { captures: line.slice(1).split(",").map((item) => (item.startsWith("n") ? Number(item.slice(1)) : decodeHex(item.slice(1)))) };
}

function emulate({ subject, pattern }: MatchCase): Verdict {
  try {
    const captures = matchLuaPattern(subject, pattern);
    return captures === null ? { noMatch: true } : { captures };
  } catch (error) {
    if (error instanceof LuaError) return { error: error.message };
    throw error;
  }
}

const asBytes = (text: string) => Buffer.from(text, "utf8").toString("latin1");
const toHex = (bytes: string) => Buffer.from(bytes, "latin1").toString("hex");
const byte = (value: number) => String.fromCharCode(value);

/** Every class escape against every byte, inside and outside a set. */
function classCases(): MatchCase[] {
  const cases: MatchCase[] = [];
  for (const letter of "acdglpsuwxzACDGLPSUWXZ.%]-^qQ") {
    for (let value = 0; value < 256; value++) {
      cases.push({ subject: byte(value), pattern: `^%${letter}$` }, { subject: byte(value), pattern: `[%${letter}]` });
    }
  }
  return cases;
}

/** Each construct where Lua patterns differ from regular expressions, and each malformed pattern. */
const CONSTRUCT_CASES: MatchCase[] = [
  ["hello world", "(%w+) (%w+)"],
  ["key = value", "(%w+)%s*=%s*(%w+)"],
  ["  trim  ", "^%s*(.-)%s*$"],
  ["aaa", "a-"],
  ["aaab", "a-b"],
  ["<<a>>", "<(.-)>"],
  ["<<a>>", "<(.*)>"],
  ["f(a(b)c)d", "%b()"],
  ["f(a(b", "%b()"],
  ["THE (quick) fox", "%f[%a]%a+"],
  ["THE (quick) fox", "%f[%l]%a+"],
  ["abc", "%f[%z]"],
  ["hello", "()ll()"],
  ["abab", "(ab)%1"],
  ["abcabc", "(a(b)c)%1%2"],
  ["a$b", "a$b"],
  ["a^b", "a^b"],
  ["^a", "^^a"],
  ["ab", "a$"],
  ["", ""],
  ["", "^$"],
  ["x", ""],
  ["a.b", "a%.b"],
  ["a-b", "[a%-]+"],
  ["]", "[]]"],
  ["]", "[^]]"],
  ["-", "[a-]"],
  ["-", "[-a]"],
  ["b", "[a-c-e]"],
  ["\\", "[!#-[%]^-~]"],
  ["]", "[!#-[%]^-~]"],
  ["é", "^.$"],
  ["é", "^..$"],
  ["é", "[^%w]"],
  ["a\u0000b", "a%zb"],
  ["a\u0000b", "a\u0000c"],
  ["abc", "(a"],
  ["abc", "a)"],
  ["abc", "%"],
  ["abc", "[a"],
  ["abc", "[^"],
  ["abc", "[]"],
  ["abc", "%b"],
  ["abc", "%ba"],
  ["abc", "%f"],
  ["abc", "%fa"],
  ["abc", "%1"],
  ["abc", "(a)%2"],
  ["abc", "()%1"],
  ["aaaa", "(()a)%2"],
  ["x".repeat(40), "(x)".repeat(32)],
  ["x".repeat(40), "(x)".repeat(33)],
  ["x".repeat(300), "x?".repeat(199)],
  ["x".repeat(300), "x?".repeat(200)],
  ["x".repeat(300), "x?".repeat(201)],
  ["x".repeat(250), `${"x*".repeat(250)}$`],
  ["ab", "a*?b"],
  ["a+b", "a+%+b"],
  ["https://sso.example.com/realms/mcp", "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"],
].map(([subject, pattern]) => ({ subject: asBytes(subject!), pattern: asBytes(pattern!) }));

/**
 * Random subjects, against patterns of two kinds: any string of the characters that mean
 * something in a pattern (malformed ones included), and well-formed patterns built from items
 * (bytes, `.`, classes, sets), quantifiers, captures, back-references, `%b`, `%f` and anchors.
 */
function generatedCases(): MatchCase[] {
  const subjectCharacter = fc.constantFrom(..."aab-.()[]%^$ 1\tA".split(""), "\u0000", "\u00e9");
  const subject = fc.array(subjectCharacter, { maxLength: 12 }).map((characters) => asBytes(characters.join("")));
  const patternCharacter = fc.constantFrom(..."ab-.%()[]^$*+?-12bfzZaAdDsSwW".split(""), "\u0000", "\u00e9");
  const anyPattern = fc.array(patternCharacter, { maxLength: 10 }).map((characters) => asBytes(characters.join("")));
  const single = fc.oneof(
    fc.constantFrom("a", "b", "-", "(", "\u00e9", ".", "%a", "%d", "%s", "%p", "%W", "%%", "%(", "%-", "%z"),
    fc.constantFrom("[ab]", "[^a]", "[a-c]", "[%a-]", "[]a]", "[^%s(]", "[%(%)]", "[-a]"),
  );
  const item = fc.tuple(single, fc.constantFrom("", "", "*", "+", "-", "?")).map(([atom, quantifier]) => atom + quantifier);
  const { sequence } = fc.letrec<{ sequence: string; element: string }>((tie) => ({
    sequence: fc.array(tie("element"), { maxLength: 4 }).map((elements) => elements.join("")),
    element: fc.oneof(
      { weight: 6, arbitrary: item },
      { weight: 2, arbitrary: tie("sequence").map((inner) => `(${inner})`) },
      { weight: 1, arbitrary: fc.constantFrom("()", "%1", "%2", "%b()", "%f[%a]", "%f[^%s]") },
    ),
  }));
  const wellFormed = fc
    .tuple(fc.constantFrom("", "^"), sequence, fc.constantFrom("", "$"))
    .map(([start, body, end]) => asBytes(start + body + end));
  return [
    ...fc.sample(fc.record({ subject, pattern: anyPattern }), { seed: 13, numRuns: 10_000 }),
    ...fc.sample(fc.record({ subject, pattern: wellFormed }), { seed: 13, numRuns: 10_000 }),
  ];
}

describe("matchLuaPattern (Lua patterns as Kong's LuaJIT runs them), against real Lua", () => {
  let interpreter: string;

  before(function () {
    const found = findLuaInterpreter();
    if (found === undefined) skipBecause(this, "no luajit or lua5.1 on the PATH (apt-get install luajit)");
    interpreter = found;
  });

  function expectSameVerdicts(cases: readonly MatchCase[]): void {
    const input = cases.map(({ subject, pattern }) => `${toHex(subject)} ${toHex(pattern)}\n`).join("");
    const lines = runLua(interpreter, LUA_MATCH_PROGRAM, input).split("\n");
    cases.forEach((matchCase, index) => {
      expect(emulate(matchCase), `${JSON.stringify(matchCase.subject)}:match(${JSON.stringify(matchCase.pattern)})`).to.deep.equal(parseVerdict(lines[index]!));
    });
  }

  it("gives the same captures, no-matches and errors for each construct and each malformed pattern", () => {
    expectSameVerdicts(CONSTRUCT_CASES);
  });

  it("classes every byte as LuaJIT does (%a %c %d %g %l %p %s %u %w %x %z, their complements, escaped bytes)", () => {
    expectSameVerdicts(classCases());
  });

  it("agrees on 20,000 generated patterns and subjects (fixed seed)", () => {
    expectSameVerdicts(generatedCases());
  });
});
