// Kong 3.9's "schema violation" error as the Admin API answers it (kong/db/errors.lua
// schema_violation, kong/db/schema/init.lua validate_field): `fields` holds the errors nested as
// the value is (a record's by field name, an array's by position), and `message` lists each
// top-level field's errors, printing nested ones with Penlight 1.14's pretty.write.

/**
 * Kong's errors for one value: a message; a record's errors by field name; or an array's by
 * position, null where an element passed (cjson encodes Kong's sparse Lua table so).
 */
export type FieldErrors = string | FieldErrorTable | ReadonlyArray<FieldErrors | null>;
export interface FieldErrorTable {
  readonly [field: string]: FieldErrors;
}

/** Penlight's lexer.get_keywords(): names pretty.write quotes as keys although they look like identifiers. */
const LUA_KEYWORDS = new Set(
  "and break do else elseif end false for function if in local nil not or repeat return then true until while".split(" "),
);

/** LuaJIT's string.format("%q"): `"`, `\` and newline escaped by a backslash, other control bytes in decimal. */
function formatQuoted(text: string): string {
  let quoted = '"';
  for (let index = 0; index < text.length; index++) {
    const character = text[index]!;
    const value = character.charCodeAt(0);
    if (character === '"' || character === "\\" || character === "\n") quoted += `\\${character}`;
    else if (value < 0x20 || value === 0x7f) {
      const digitFollows = /[0-9]/.test(text[index + 1] ?? "");
      quoted += `\\${digitFollows ? String(value).padStart(3, "0") : String(value)}`;
    } else quoted += character;
  }
  return `${quoted}"`;
}

/** Penlight's has_lquote: the most `=` in a `[[`/`]]`-like sequence of `text`, or undefined. */
function findLongBracketLevel(text: string): number | undefined {
  const longBracket = /([[\]])(=*)\1/g;
  let level: number | undefined;
  for (let match = longBracket.exec(text); match !== null; match = longBracket.exec(text)) {
    level = Math.max(level ?? 0, match[2]!.length);
    // string.find resumes at the last character of the previous match.
    longBracket.lastIndex = match.index + match[0].length - 1;
  }
  return level;
}

/** Penlight's stringx.quote_string: a long bracket for text with newlines or brackets, %q otherwise (LuaJIT's %q leaves no CR to replace). */
function quoteString(text: string): string {
  const level = findLongBracketLevel(`${text}]`);
  if ((text.includes("\n") || level !== undefined) && !text.includes("\r")) {
    const equals = "=".repeat((level ?? -1) + 1);
    return `[${equals}[${text.startsWith("\n") ? "\n" : ""}${text}]${equals}]`;
  }
  return formatQuoted(text);
}

/** How pretty.write names a string key: bare when it is a Lua identifier, else `["key"]`. */
function formatKey(key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) && !LUA_KEYWORDS.has(key)) return key;
  const quoted = quoteString(key);
  return `[${quoted.startsWith("[") ? ` ${quoted} ` : quoted}]`;
}

/**
 * Penlight 1.14's pretty.write(value) with its default two-space indent, for error tables: string
 * keys sorted, then the sequence from index 1 without keys, then the other positions as `[n] = `.
 * Kong writes those other positions in LuaJIT's hash order, which depends on the CPU architecture;
 * this writes them in ascending order.
 */
function writePretty(value: FieldErrors): string {
  const lines: string[] = [];
  let line = "";
  const put = (text: string) => {
    line += text;
  };
  const putLine = (text: string) => {
    lines.push(line + text);
    line = "";
  };
  const eatLastComma = () => {
    const last = lines.length - 1;
    if (lines[last]!.endsWith(",")) lines[last] = lines[last]!.slice(0, -1);
  };
  const write = (item: FieldErrors, outerIndent: string, indent: string): void => {
    if (typeof item === "string") return putLine(`${quoteString(item)},`);
    const innerIndent = `${indent}  `;
    putLine("{");
    if (Array.isArray(item)) {
      const list = item as ReadonlyArray<FieldErrors | null>;
      let sequenceLength = 0;
      while (sequenceLength < list.length && list[sequenceLength] !== null) {
        put(indent);
        write(list[sequenceLength]!, indent, innerIndent);
        sequenceLength++;
      }
      list.forEach((element, index) => {
        if (index < sequenceLength || element === null) return;
        put(`${indent}[${index + 1}] = `);
        write(element, indent, innerIndent);
      });
    } else {
      for (const key of Object.keys(item).sort()) {
        put(`${indent}${formatKey(key)} = `);
        write((item as FieldErrorTable)[key]!, indent, innerIndent);
      }
    }
    eatLastComma();
    putLine(`${outerIndent}},`);
  };
  write(value, "", "  ");
  eatLastComma();
  return lines.join("\n");
}

/** Lua's table.sort of pl.tablex.keys: numbers in order for an array's positions, strings bytewise. */
function sortedKeys(errors: FieldErrorTable | ReadonlyArray<FieldErrors | null>): string[] {
  if (Array.isArray(errors)) return errors.flatMap((element, index) => (element === null ? [] : [String(index + 1)]));
  return Object.keys(errors).sort();
}

/** errors.lua schema_violation's message: one entry per field, or per sub-field of a table. */
export function formatSchemaViolationMessage(fields: FieldErrorTable): string {
  const entries: string[] = [];
  for (const name of sortedKeys(fields)) {
    const errors = fields[name]!;
    if (typeof errors === "string") {
      entries.push(`${name}: ${errors}`);
      continue;
    }
    const table = errors as FieldErrorTable & ReadonlyArray<FieldErrors | null>;
    for (const key of sortedKeys(table)) {
      const nested = Array.isArray(table) ? table[Number(key) - 1]! : table[key]!;
      entries.push(`${name}.${key}: ${typeof nested === "string" ? nested : writePretty(nested)}`);
    }
  }
  return entries.length === 1 ? `schema violation (${entries[0]})` : `${entries.length} schema violations (${entries.join("; ")})`;
}

/** Kong's answer to an entity that fails its schema: 400 with this error as the JSON body. */
export class SchemaViolationError extends Error {
  override readonly name = "SchemaViolationError";

  /** `fields`: the entity's errors by field, e.g. `{config: {authorization_servers: [{audience: "required field missing"}]}}`. */
  constructor(readonly fields: FieldErrorTable) {
    super(formatSchemaViolationMessage(fields));
  }

  /** The Admin API's JSON body for this error (code 2, Kong's SCHEMA_VIOLATION). */
  toJSON(): { code: number; name: string; message: string; fields: FieldErrorTable } {
    return { code: 2, name: "schema violation", message: this.message, fields: this.fields };
  }
}
