import { InvalidRequest } from "./refusals";

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
  // WHATWG URL accepts `"` in a host (also as %22): it would end the quoted-string of the
  // challenge's resource_metadata (RFC 6750 §3).
  if (/[/?#@\\\s"%]/.test(host) || !URL.canParse(schemeAndHost)) {
    // The host is not quoted: a log line must not carry whatever a broken PDK call handed over.
    throw new InvalidRequest("the request's Host cannot be used for a resource URL", "forwarded host is not a plain host");
  }
  const url = new URL(schemeAndHost);
  // A port setter beyond 65535 is ignored (WHATWG URL); one of 80.5 would take its leading digits.
  if (Number.isInteger(port) && Number(port) > 0) url.port = String(port);
  // WHATWG URL serializes the origin without the scheme's default port.
  return url.origin;
}
