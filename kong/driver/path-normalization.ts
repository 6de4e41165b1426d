// Kong 3.9's kong/tools/uri.lua, restated: paths are byte strings (one char per byte, as nginx and
// Node's http parser hold them), so percent-decoding yields raw bytes exactly as it does in Lua.

/** RFC 3986 section 2.2 reserved characters plus "%": Kong keeps these percent-encoded. */
const RESERVED_CHARACTERS = "!*'();:@&=+$,/?%#[]";
const PERCENT_TRIPLET = /%([0-9a-f]{2})/gi;
const UNSAFE_FOR_FORWARDING = /[^!#$&'()*+,/:;=?@[\]A-Z\d\-_.~%]/gi;

function decodeUnreservedTriplet(triplet: string, hex: string): string {
  const byte = Number.parseInt(hex, 16);
  return RESERVED_CHARACTERS.includes(String.fromCharCode(byte)) ? triplet.toUpperCase() : String.fromCharCode(byte);
}

/**
 * Normalizes a raw request path the way `kong.request.get_path()` does (RFC 3986 section 6.2.2):
 * percent-encoded unreserved and "other" bytes are decoded, reserved ones upper-cased, dot segments
 * removed (section 5.2.4) and, with `mergeSlashes`, runs of "/" merged. Does NOT touch the query: pass
 * the path without it.
 */
export function normalizePath(rawPath: string, mergeSlashes = true): string {
  if (rawPath === "" || rawPath === "/") return rawPath;
  let remaining = rawPath.includes("%") ? rawPath.replace(PERCENT_TRIPLET, decodeUnreservedTriplet) : rawPath;
  if (!remaining.includes(".") && (!mergeSlashes || !remaining.includes("//"))) return remaining;

  const output: string[] = [];
  while (remaining.length > 0) {
    if (remaining === "/.") {
      remaining = "/";
    } else if (remaining === "/..") {
      remaining = "/";
      output.pop();
    } else if (remaining === "." || remaining === "..") {
      remaining = "";
    } else if (remaining.startsWith("../")) {
      remaining = remaining.slice(3);
    } else if (remaining.startsWith("./")) {
      remaining = remaining.slice(2);
    } else if (remaining.startsWith("/./")) {
      remaining = remaining.slice(2);
    } else if (remaining.startsWith("/../")) {
      remaining = remaining.slice(3);
      output.pop();
    } else if (mergeSlashes && remaining.startsWith("//")) {
      remaining = remaining.slice(1);
    } else {
      const nextSlash = remaining.indexOf("/", 1);
      const segmentEnd = nextSlash === -1 ? remaining.length : nextSlash;
      output.push(remaining.slice(0, segmentEnd));
      remaining = remaining.slice(segmentEnd);
    }
  }
  return output.join("");
}

/**
 * Percent-encodes the bytes of a normalized path that are unsafe on the wire, as Kong does before
 * building the upstream URI; reserved characters and existing escapes are kept.
 */
export function escapePathForUpstream(path: string): string {
  return path.replace(
    UNSAFE_FOR_FORWARDING,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
}
