import { InvalidRequest } from "./refusals";

/** A DNS name (internationalized ones too: letters, digits and marks of any script), an IPv4 or a bracketed IPv6 address, and a port. */
const PLAIN_HOST = /^(?:[\p{L}\p{N}\p{M}._-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/u;

/**
 * The origin a client used, from Kong's forwarded scheme/host/port (Kong honours X-Forwarded-*
 * only from trusted_ips). Default ports are omitted (RFC 6454 §4). The host comes from the
 * request, so anything that does not parse as a URL authority is refused rather than echoed.
 */
export function formatForwardedOrigin(scheme: string, host: string, port: number | undefined): string {
  const normalizedScheme = scheme.toLowerCase();
  if (normalizedScheme !== "http" && normalizedScheme !== "https") {
    throw new InvalidRequest("the request's scheme cannot be used for a resource URL", `forwarded scheme '${scheme}'`);
  }
  const schemeAndHost = `${normalizedScheme}://${host}`;
  // Only a plain host. WHATWG URL also accepts `"` (as %22 too), which would end the quoted-string
  // of the challenge's resource_metadata (RFC 6750 §3), and sub-delims such as `,` and `=`, which
  // a client splitting the challenge on commas would read as parameters of their own.
  if (!PLAIN_HOST.test(host) || !URL.canParse(schemeAndHost)) {
    // The host is not quoted: a log line must not carry whatever a broken PDK call handed over.
    throw new InvalidRequest("the request's Host cannot be used for a resource URL", "forwarded host is not a plain host");
  }
  const url = new URL(schemeAndHost);
  // A port setter beyond 65535 is ignored (WHATWG URL); one of 80.5 would take its leading digits.
  if (Number.isInteger(port) && Number(port) > 0) url.port = String(port);
  // WHATWG URL serializes the origin without the scheme's default port.
  return url.origin;
}
