// Lua patterns as Kong's LuaJIT runs them (string.match), for the schema validators `match`,
// `not_match`, `match_all`, `match_none` and `match_any`. Lua patterns are not regular
// expressions: no alternation, `%` escapes, `-` is a lazy `*`, `^` anchors only at the start and
// `$` only at the end, `%b()` balances, `%f[set]` is a frontier, and they work on bytes (a UTF-8
// character is several). Classes follow LuaJIT's ASCII-only tables, with `%g` (graph) and `%z`.
import { LuaError } from "./lua-values";

/** What string.match returns on a match: the captures as byte strings (a position capture is a number), or the whole match. */
export type LuaCaptures = Array<string | number>;

const ESCAPE = 0x25; // %
const MAX_CAPTURES = 32; // LUA_MAXCAPTURES
const MAX_DEPTH = 200; // LJ_MAX_XLEVEL: deeper recursion raises "pattern too complex"
const CAPTURE_UNFINISHED = -1;
const CAPTURE_POSITION = -2;

const code = (character: string): number => character.charCodeAt(0);

/** LuaJIT's character classes (lj_char.c): C-locale ASCII, nothing at or above 0x80. */
const isControl = (c: number) => c < 0x20 || c === 0x7f;
const isSpace = (c: number) => (c >= 0x09 && c <= 0x0d) || c === 0x20;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isUpper = (c: number) => c >= 0x41 && c <= 0x5a;
const isLower = (c: number) => c >= 0x61 && c <= 0x7a;
const isAlpha = (c: number) => isUpper(c) || isLower(c);
const isAlnum = (c: number) => isAlpha(c) || isDigit(c);
const isPunct = (c: number) => c > 0x20 && c < 0x7f && !isAlnum(c);
const isHexDigit = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const isGraph = (c: number) => isAlnum(c) || isPunct(c);

/** The class of `%<letter>` by lower-case letter; its upper-case letter is the complement. */
const CLASSES: ReadonlyMap<number, (c: number) => boolean> = new Map([
  [code("a"), isAlpha],
  [code("c"), isControl],
  [code("d"), isDigit],
  [code("g"), isGraph],
  [code("l"), isLower],
  [code("p"), isPunct],
  [code("s"), isSpace],
  [code("u"), isUpper],
  [code("w"), isAlnum],
  [code("x"), isHexDigit],
]);

/** Whether byte `c` is in `%<classLetter>`; any other escaped byte stands for itself. */
function matchesClass(c: number, classLetter: number): boolean {
  const test = CLASSES.get(classLetter | 0x20);
  if (test !== undefined && isAlpha(classLetter)) return isLower(classLetter) ? test(c) : !test(c);
  if (classLetter === code("z")) return c === 0;
  if (classLetter === code("Z")) return c !== 0;
  return classLetter === c;
}

interface Capture {
  start: number;
  length: number;
}

/** One string.match call: the subject and pattern bytes, each read as Lua reads a NUL-terminated string. */
class Matcher {
  private level = 0;
  private depth = 0;
  private readonly captures: Capture[] = [];

  constructor(
    private readonly subject: Uint8Array,
    private readonly pattern: Uint8Array,
  ) {}

  /** The subject byte at `index`; Lua strings end with a NUL that patterns may read (`%f`, `%b`). */
  private subjectAt(index: number): number {
    return index < this.subject.length ? this.subject[index]! : 0;
  }

  /** The pattern byte at `index`; the pattern ends at its first NUL, as in C. */
  private patternAt(index: number): number {
    return index < this.pattern.length ? this.pattern[index]! : 0;
  }

  /** Tries the pattern from `patternStart` against the subject from `start`; the match's end or -1. */
  matchAt(start: number, patternStart: number): number {
    this.level = 0;
    this.depth = 0;
    return this.match(start, patternStart);
  }

  captured(start: number, end: number): LuaCaptures {
    if (this.level === 0) return [this.text(start, end - start)];
    return this.captures.slice(0, this.level).map((capture) => {
      if (capture.length === CAPTURE_UNFINISHED) throw new LuaError("unfinished capture");
      return capture.length === CAPTURE_POSITION ? capture.start + 1 : this.text(capture.start, capture.length);
    });
  }

  private text(start: number, length: number): string {
    return Buffer.from(this.subject.subarray(start, start + length)).toString("latin1");
  }

  /** The index just past the single-character class at `p` (a byte, `%x` or a `[set]`). */
  private classEnd(p: number): number {
    const first = this.patternAt(p++);
    if (first === ESCAPE) {
      if (this.patternAt(p) === 0) throw new LuaError("malformed pattern (ends with '%')");
      return p + 1;
    }
    if (first === code("[")) {
      if (this.patternAt(p) === code("^")) p++;
      do {
        if (this.patternAt(p) === 0) throw new LuaError("malformed pattern (missing ']')");
        if (this.patternAt(p++) === ESCAPE && this.patternAt(p) !== 0) p++;
      } while (this.patternAt(p) !== code("]"));
      return p + 1;
    }
    return p;
  }

  /** Whether `c` is in the set from `[` at `p` to its `]` at `closing`. */
  private matchesSet(c: number, p: number, closing: number): boolean {
    let inSet = true;
    if (this.patternAt(p + 1) === code("^")) {
      inSet = false;
      p++;
    }
    while (++p < closing) {
      const item = this.patternAt(p);
      if (item === ESCAPE) {
        p++;
        if (matchesClass(c, this.patternAt(p))) return inSet;
      } else if (this.patternAt(p + 1) === code("-") && p + 2 < closing) {
        p += 2;
        if (item <= c && c <= this.patternAt(p)) return inSet;
      } else if (item === c) return inSet;
    }
    return !inSet;
  }

  /** Whether byte `c` matches the single-character class from `p` to `classEnd`. */
  private matchesSingle(c: number, p: number, classEnd: number): boolean {
    const item = this.patternAt(p);
    if (item === code(".")) return true;
    if (item === ESCAPE) return matchesClass(c, this.patternAt(p + 1));
    if (item === code("[")) return this.matchesSet(c, p, classEnd - 1);
    return item === c;
  }

  /** `%b<open><close>` at `s`: the index after the balanced run, or -1. */
  private matchBalance(s: number, p: number): number {
    const open = this.patternAt(p);
    const close = this.patternAt(p + 1);
    if (open === 0 || close === 0) throw new LuaError("unbalanced pattern");
    if (this.subjectAt(s) !== open) return -1;
    let depth = 1;
    while (++s < this.subject.length) {
      const c = this.subject[s]!;
      if (c === close) {
        if (--depth === 0) return s + 1;
      } else if (c === open) depth++;
    }
    return -1;
  }

  /** `x*` (and `x+` after its first): as many as possible, then fewer until the rest matches. */
  private expandGreedily(s: number, p: number, classEnd: number): number {
    let count = 0;
    while (s + count < this.subject.length && this.matchesSingle(this.subject[s + count]!, p, classEnd)) count++;
    for (; count >= 0; count--) {
      const end = this.match(s + count, classEnd + 1);
      if (end !== -1) return end;
    }
    return -1;
  }

  /** `x-`: as few as possible, one more each time the rest fails. */
  private expandLazily(s: number, p: number, classEnd: number): number {
    for (;;) {
      const end = this.match(s, classEnd + 1);
      if (end !== -1) return end;
      if (s < this.subject.length && this.matchesSingle(this.subject[s]!, p, classEnd)) s++;
      else return -1;
    }
  }

  private startCapture(s: number, p: number, kind: number): number {
    if (this.level >= MAX_CAPTURES) throw new LuaError("too many captures");
    this.captures[this.level] = { start: s, length: kind };
    this.level++;
    const end = this.match(s, p);
    if (end === -1) this.level--;
    return end;
  }

  private endCapture(s: number, p: number): number {
    let open = this.level - 1;
    while (open >= 0 && this.captures[open]!.length !== CAPTURE_UNFINISHED) open--;
    if (open < 0) throw new LuaError("invalid pattern capture");
    const capture = this.captures[open]!;
    capture.length = s - capture.start;
    const end = this.match(s, p);
    if (end === -1) capture.length = CAPTURE_UNFINISHED;
    return end;
  }

  /** `%1`–`%9`: the text of an earlier, closed capture again. */
  private matchBackReference(s: number, digit: number): number {
    const index = digit - code("1");
    const capture = this.captures[index];
    if (index < 0 || index >= this.level || capture === undefined || capture.length === CAPTURE_UNFINISHED) throw new LuaError("invalid capture index");
    // A position capture has no text: C compares its length as a huge size_t, which never fits.
    if (capture.length < 0 || this.subject.length - s < capture.length) return -1;
    for (let offset = 0; offset < capture.length; offset++) {
      if (this.subject[capture.start + offset] !== this.subject[s + offset]) return -1;
    }
    return s + capture.length;
  }

  /** LuaJIT's match(): the index where the pattern from `p` ends matching from `s`, or -1. */
  private match(s: number, p: number): number {
    if (++this.depth > MAX_DEPTH) throw new LuaError("pattern too complex");
    const end = this.matchItems(s, p);
    this.depth--;
    return end;
  }

  private matchItems(s: number, p: number): number {
    for (;;) {
      const item = this.patternAt(p);
      if (item === code("(")) {
        return this.patternAt(p + 1) === code(")") ? this.startCapture(s, p + 2, CAPTURE_POSITION) : this.startCapture(s, p + 1, CAPTURE_UNFINISHED);
      }
      if (item === code(")")) return this.endCapture(s, p + 1);
      if (item === 0) return s;
      if (item === code("$") && this.patternAt(p + 1) === 0) return s === this.subject.length ? s : -1;
      if (item === ESCAPE) {
        const next = this.patternAt(p + 1);
        if (next === code("b")) {
          s = this.matchBalance(s, p + 2);
          if (s === -1) return -1;
          p += 4;
          continue;
        }
        if (next === code("f")) {
          p += 2;
          if (this.patternAt(p) !== code("[")) throw new LuaError("missing '[' after '%f' in pattern");
          const classEnd = this.classEnd(p);
          const previous = s === 0 ? 0 : this.subject[s - 1]!;
          if (this.matchesSet(previous, p, classEnd - 1) || !this.matchesSet(this.subjectAt(s), p, classEnd - 1)) return -1;
          p = classEnd;
          continue;
        }
        if (isDigit(next)) {
          s = this.matchBackReference(s, next);
          if (s === -1) return -1;
          p += 2;
          continue;
        }
      }
      const classEnd = this.classEnd(p);
      const matches = s < this.subject.length && this.matchesSingle(this.subject[s]!, p, classEnd);
      const quantifier = this.patternAt(classEnd);
      if (quantifier === code("?")) {
        if (matches) {
          const end = this.match(s + 1, classEnd + 1);
          if (end !== -1) return end;
        }
        p = classEnd + 1;
      } else if (quantifier === code("*")) {
        return this.expandGreedily(s, p, classEnd);
      } else if (quantifier === code("+")) {
        return matches ? this.expandGreedily(s + 1, p, classEnd) : -1;
      } else if (quantifier === code("-")) {
        return this.expandLazily(s, p, classEnd);
      } else {
        if (!matches) return -1;
        s++;
        p = classEnd;
      }
    }
  }
}

/**
 * `subject:match(pattern)` as LuaJIT computes it, on Lua byte strings (one char per byte, see
 * lua-values.ts): the captures, or null when nothing matches. Throws LuaError with LuaJIT's message
 * for a malformed pattern.
 */
export function matchLuaPattern(subject: string, pattern: string): LuaCaptures | null {
  const subjectBytes = Buffer.from(subject, "latin1");
  const matcher = new Matcher(subjectBytes, Buffer.from(pattern, "latin1"));
  const anchored = pattern.startsWith("^");
  for (let start = 0; start <= subjectBytes.length; start++) {
    const end = matcher.matchAt(start, anchored ? 1 : 0);
    if (end !== -1) return matcher.captured(start, end);
    if (anchored) break;
  }
  return null;
}
