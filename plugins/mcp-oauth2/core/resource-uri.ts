import { InvalidJsonRpc, quoteText } from "./refusals";

/**
 * Spellings that make a URI name something else once an upstream resolves it: the MCP TypeScript
 * SDK looks resources up by `new URL(uri).toString()` (WHATWG), the Python SDK through pydantic's
 * URL type (the same standard), and both remove dot segments, read `%2e` as a dot in them, turn
 * `\` into `/` in http(s) and file URLs and drop tabs and newlines. With a grant of
 * `file:///srv/public/*`, `file:///srv/public/%2e%2e/secret` would read the secret.
 */
const CONTROL_OR_SPACE_OR_BACKSLASH = /[\x00-\x20\x7f\\]/;
/** Percent-encoded dot, slash or backslash: a decoding handler could see segments the gate did not. */
const ENCODED_SEPARATOR = /%(2e|2f|5c)/i;
/** A `.` or `..` path segment (RFC 3986 §5.2.4 removes them). */
const DOT_SEGMENT = /\/\.{1,2}(?=[/?#]|$)/;

/** What the ACL judges of a resource URI: as sent, and as a WHATWG parser resolves it when that differs. */
export interface ResourceUri {
  readonly uri: string;
  readonly resolved?: string;
}

/**
 * Checks a `params.uri` of resources/read, subscribe and unsubscribe. Refuses (InvalidJsonRpc
 * -32602, 400) URIs with dot segments, encoded dots or slashes, backslashes, controls or spaces;
 * for the rest returns the URI and, when it serializes differently (case of scheme or host,
 * default port, IP spellings), the resolved form, which the ACL must allow too: an upstream that
 * reads the URI as sent (Go SDK) and one that resolves it then both see an allowed resource.
 */
export function readResourceUri(uri: string): ResourceUri {
  if (CONTROL_OR_SPACE_OR_BACKSLASH.test(uri) || ENCODED_SEPARATOR.test(uri) || DOT_SEGMENT.test(uri)) {
    throw new InvalidJsonRpc(
      `the resource URI ${quoteText(uri)} has dot segments, encoded dots or slashes, backslashes, spaces or control characters`,
      -32602,
    );
  }
  let resolved: string;
  try {
    resolved = new URL(uri).href;
  } catch {
    // Not a URL to a WHATWG parser: such upstreams refuse it, others read it as sent.
    return { uri };
  }
  return resolved === uri ? { uri } : { uri, resolved };
}
