/**
 * Where values sit in JSON text that JSON.parse has already read, so that one value can be
 * replaced while every other character stays as it was. The text is valid JSON: only strings,
 * brackets, commas and colons need attention.
 */

/** A [start, end) range of characters in a JSON text. */
export type TextRange = readonly [number, number];

const JSON_WHITESPACE = new Set([" ", "\t", "\n", "\r"]);

/** The range with the JSON whitespace around it left out. */
export function trimJsonWhitespace(text: string, [start, end]: TextRange): TextRange {
  let from = start;
  let to = end;
  while (from < to && JSON_WHITESPACE.has(text[from]!)) from++;
  while (to > from && JSON_WHITESPACE.has(text[to - 1]!)) to--;
  return [from, to];
}

/** The index just past the string literal that starts at `start` (its opening quote). */
function skipString(text: string, start: number): number {
  let index = start + 1;
  while (text[index] !== '"') index += text[index] === "\\" ? 2 : 1;
  return index + 1;
}

/**
 * The ranges of the elements of the JSON array, or of the members (`name: value` as one range)
 * of the JSON object, whose brackets span `range`, each trimmed of whitespace.
 */
export function splitJsonContainer(text: string, [start, end]: TextRange): TextRange[] {
  const parts: TextRange[] = [];
  let depth = 0;
  let partStart = start + 1;
  const close = (at: number): void => {
    const part = trimJsonWhitespace(text, [partStart, at]);
    if (part[0] < part[1]) parts.push(part);
    partStart = at + 1;
  };
  for (let index = start + 1; index < end - 1; ) {
    const character = text[index];
    if (character === '"') {
      index = skipString(text, index);
      continue;
    }
    if (character === "[" || character === "{") depth++;
    else if (character === "]" || character === "}") depth--;
    else if (character === "," && depth === 0) close(index);
    index++;
  }
  close(end - 1);
  return parts;
}

/**
 * The range of the value of the member named `name` (escapes decoded, as JSON.parse reads
 * names) of the JSON object spanning `range`; undefined when it has no such member. With
 * repeated names (which the gate refuses before it gets here) the first is found.
 */
export function findMemberValue(text: string, range: TextRange, name: string): TextRange | undefined {
  for (const [from, to] of splitJsonContainer(text, range)) {
    const nameEnd = skipString(text, from);
    if (JSON.parse(text.slice(from, nameEnd)) !== name) continue;
    const colon = text.indexOf(":", nameEnd);
    return trimJsonWhitespace(text, [colon + 1, to]);
  }
  return undefined;
}

/** The text with each range replaced; the ranges come in text order and do not overlap. */
export function replaceRanges(text: string, replacements: ReadonlyArray<readonly [TextRange, string]>): string {
  let result = "";
  let copiedUpTo = 0;
  for (const [[from, to], replacement] of replacements) {
    result += text.slice(copiedUpTo, from) + replacement;
    copiedUpTo = to;
  }
  return result + text.slice(copiedUpTo);
}
