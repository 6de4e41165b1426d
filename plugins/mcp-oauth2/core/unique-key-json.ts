import { quoteText } from "./refusals";

/** A JSON object (not null, not an array): what configs, tokens and JSON-RPC messages are made of. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * JSON parsing that refuses duplicate member names. RFC 8259 §4 leaves duplicates to the parser
 * and parsers disagree (first or last wins), so a gate that judges `method` one way while the
 * upstream reads it another could be bypassed; RFC 7515 §5.2 and RFC 7519 §4 allow rejecting.
 */
export class DuplicateKeyError extends SyntaxError {
  constructor(readonly key: string) {
    super(`duplicate member name ${quoteText(key)}`);
    this.name = "DuplicateKeyError";
  }
}

/**
 * JSON nested deeper than this is refused before it is parsed. MCP messages, token claims and key
 * sets nest a few levels and tool arguments rarely a dozen; hostile nesting (a megabyte of `[`)
 * would otherwise cost every later step. Upstreams stop at different depths (pydantic's 200,
 * Python's recursion limit, Go's 10,000): below all of them, a refused body is one no upstream runs.
 */
export const MAX_JSON_NESTING = 128;

/** JSON nested deeper than MAX_JSON_NESTING. */
export class NestingTooDeep extends SyntaxError {
  constructor() {
    super(`JSON nested deeper than ${MAX_JSON_NESTING} levels`);
    this.name = "NestingTooDeep";
  }
}

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Index of the quote that closes the string opened at `start`, or -1 when none does. */
function findStringEnd(text: string, start: number): number {
  let end = text.indexOf('"', start + 1);
  for (;;) {
    // At end -1, charCodeAt(-2) is NaN, no backslash: -1 is returned.
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
}

/**
 * Throws NestingTooDeep as soon as brackets outside strings open more than MAX_JSON_NESTING levels:
 * linear, and it stops at the first level too many. Malformed text is left to JSON.parse.
 */
function checkNesting(text: string): void {
  let depth = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === QUOTE) {
      index = findStringEnd(text, index);
      if (index === -1) return;
    } else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      if (++depth > MAX_JSON_NESTING) throw new NestingTooDeep();
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      depth--;
    }
  }
}

/**
 * The first member name repeated within one object nested at most `maxDepth` deep (1 = the top
 * level), or undefined. Expects text that JSON.parse accepted; walks it once without recursion,
 * so hostile nesting cannot exhaust the stack.
 */
function findDuplicateKey(text: string, maxDepth: number): string | undefined {
  const containers: Array<Set<string> | null | false> = []; // Set: tracked object, null: deep object, false: array
  // The last of { [ } ] , : outside strings: a string right after { or , in an object is a member name.
  let previous = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code === QUOTE) {
      const end = findStringEnd(text, index);
      const keys = containers[containers.length - 1];
      if (keys && (previous === OPEN_OBJECT || previous === COMMA)) {
        const raw = text.slice(index + 1, end);
        const key = raw.includes("\\") ? (JSON.parse(text.slice(index, end + 1)) as string) : raw;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      index = end;
      continue;
    }
    if (code === OPEN_OBJECT) containers.push(containers.length < maxDepth ? new Set() : null);
    else if (code === OPEN_ARRAY) containers.push(false);
    else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) containers.pop();
    else if (code !== COMMA && code !== COLON) continue;
    previous = code;
  }
  return undefined;
}

/**
 * JSON.parse after a nesting check, then a refusal of duplicate member names in objects nested at
 * most `maxDepth` deep (a number, or chosen from the parsed value). Throws SyntaxError (or its
 * subclasses NestingTooDeep and DuplicateKeyError).
 */
export function parseJsonWithUniqueKeys(text: string, maxDepth: number | ((value: unknown) => number) = Infinity): unknown {
  checkNesting(text);
  const value: unknown = JSON.parse(text);
  // Compact JSON as issuers and SDKs write it serializes back to itself only when no member was
  // repeated (JSON.parse keeps one of each): a native check first, the scan in JS only otherwise.
  // Nesting is bounded above, so JSON.stringify cannot run out of stack here.
  if (JSON.stringify(value) === text) return value;
  const duplicate = findDuplicateKey(text, typeof maxDepth === "number" ? maxDepth : maxDepth(value));
  if (duplicate !== undefined) throw new DuplicateKeyError(duplicate);
  return value;
}
