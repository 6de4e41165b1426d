import type { HeaderMap } from "./access-decision";
import { InvalidRequest, quoteText, UnsupportedMediaType } from "./refusals";

/** RFC 9110 §5.6.2 token characters. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const TOKEN_CHARACTER = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
/** The charset labels every upstream reads as UTF-8 or refuses (iconv-lite, Python and Go take `utf8` too). */
const UTF8_LABELS: ReadonlySet<string> = new Set(["utf-8", "utf8"]);
/** Media types whose bodies the gate reads as JSON-RPC (MCP Streamable HTTP posts application/json). */
const JSON_SUFFIX = "+json";

interface MediaType {
  readonly essence: string;
  readonly parameters: ReadonlyArray<readonly [string, string]>;
}

function refuseMediaType(description: string, contentType: string | undefined): never {
  const received = contentType === undefined ? "none" : quoteText(contentType);
  throw new UnsupportedMediaType(description, `${description}: content-type ${received}`);
}

/** Index past the quoted-string opened at `start` (RFC 9110 §5.6.4), and its unescaped value. */
function readQuotedString(text: string, start: number): { end: number; value: string } | undefined {
  let value = "";
  for (let index = start + 1; index < text.length; index++) {
    const character = text[index];
    if (character === '"') return { end: index + 1, value };
    if (character === "\\") index++;
    if (index >= text.length) return undefined;
    value += text[index];
  }
  return undefined;
}

function readToken(text: string, start: number): string {
  let end = start;
  while (end < text.length && TOKEN_CHARACTER.test(text[end])) end++;
  return text.slice(start, end);
}

function skipWhitespace(text: string, start: number): number {
  let index = start;
  while (text[index] === " " || text[index] === "\t") index++;
  return index;
}

/**
 * RFC 9110 §8.3.1 media-type = type "/" subtype parameters, read strictly: a value that does not
 * follow the grammar is undefined, since lenient parsers split it differently (a charset inside a
 * quoted parameter value would be seen by one and not by another).
 */
export function parseMediaType(value: string): MediaType | undefined {
  const slash = value.indexOf("/");
  const semicolon = value.indexOf(";");
  const typeEnd = semicolon === -1 ? value.length : semicolon;
  const [type, subtype] = [value.slice(0, slash), value.slice(slash + 1, typeEnd).replace(/[ \t]+$/, "")];
  // A slash after the first ";" leaves that ";" in the type, which is then no token.
  if (slash === -1 || !TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;
  const parameters: [string, string][] = [];
  let index = skipWhitespace(value, typeEnd);
  while (index < value.length) {
    if (value[index] !== ";") return undefined;
    index = skipWhitespace(value, index + 1);
    if (index >= value.length || value[index] === ";") continue;
    const name = readToken(value, index);
    if (name === "" || value[index + name.length] !== "=") return undefined;
    index += name.length + 1;
    let parameterValue: string;
    if (value[index] === '"') {
      const quoted = readQuotedString(value, index);
      if (quoted === undefined) return undefined;
      ({ end: index, value: parameterValue } = quoted);
    } else {
      parameterValue = readToken(value, index);
      if (parameterValue === "") return undefined;
      index += parameterValue.length;
    }
    parameters.push([name.toLowerCase(), parameterValue]);
    index = skipWhitespace(value, index);
  }
  return { essence: `${type}/${subtype}`.toLowerCase(), parameters };
}

/**
 * The headers that decide how the upstream decodes a body, checked before the body is read:
 * `Content-Type` at most once (400: two fields are read as one by some parsers and as the last by
 * others) and no `Content-Encoding` but `identity` (415): body parsers such as Express's inflate
 * gzip, deflate and br, and the gate would be judging the compressed bytes.
 */
export function checkBodyHeaders(headers: HeaderMap): void {
  const contentTypeCount = headers.get("content-type")?.length ?? 0;
  if (contentTypeCount > 1) throw new InvalidRequest("Content-Type must be sent once", `Content-Type sent ${contentTypeCount} times`);
  for (const field of headers.get("content-encoding") ?? []) {
    for (const coding of field.split(",")) {
      const name = coding.trim().toLowerCase();
      if (name !== "" && name !== "identity") {
        throw new UnsupportedMediaType(
          "compressed request bodies are not accepted: send the JSON-RPC body without Content-Encoding",
          `Content-Encoding ${quoteText(field)}`,
        );
      }
    }
  }
}

/**
 * A JSON-RPC body must be `application/json` (or `+json`) in UTF-8: no charset, or `utf-8` (or
 * `utf8`) once.
 * Express's body parser and the MCP SDK transports decode other charsets (utf-7, utf-16) with
 * iconv-lite, so bytes the gate reads as one message would run upstream as another. Throws
 * UnsupportedMediaType (415).
 */
export function checkJsonContentType(contentType: string | undefined): void {
  const mediaType = contentType === undefined ? undefined : parseMediaType(contentType);
  if (mediaType === undefined || (mediaType.essence !== "application/json" && !mediaType.essence.endsWith(JSON_SUFFIX))) {
    return refuseMediaType("JSON-RPC bodies must be sent as application/json", contentType);
  }
  const charsets = mediaType.parameters.filter(([name]) => name === "charset");
  if (charsets.length > 1 || charsets.some(([, charset]) => !UTF8_LABELS.has(charset.toLowerCase()))) {
    return refuseMediaType("JSON-RPC bodies must be UTF-8: send no charset, or charset=utf-8", contentType);
  }
}
