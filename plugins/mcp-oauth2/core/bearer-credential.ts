import { InvalidRequest, MissingToken } from "./refusals";

/** RFC 9110 §11.1 auth-scheme (a token), then whatever follows it. */
const AUTH_SCHEME = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)([\s\S]*)$/;
/** RFC 6750 §2.1: "Bearer" 1*SP b64token. */
const BEARER_CREDENTIAL = /^ +([A-Za-z0-9\-._~+/]+=*)$/;

/**
 * The bearer token from the values of the token header (Kong's header map gives every value).
 * No value, or a credential of another scheme: MissingToken (RFC 6750 §3.1, no error code).
 * Two values, or a Bearer credential that is not `Bearer <b64token>`: InvalidRequest.
 * Tokens in the query string or body are never looked at (RFC 6750 §2.2-2.3 are not offered).
 */
export function extractBearerToken(headerValues: readonly string[] | undefined): string {
  if (headerValues === undefined || headerValues.length === 0) throw new MissingToken();
  if (headerValues.length > 1) {
    throw new InvalidRequest("the token header must be sent once", `token header sent ${headerValues.length} times`);
  }
  const scheme = AUTH_SCHEME.exec(headerValues[0]);
  // The scheme name is case-insensitive (RFC 9110 §11.1).
  if (scheme === null || scheme[1].toLowerCase() !== "bearer") throw new MissingToken();
  const credential = BEARER_CREDENTIAL.exec(scheme[2]);
  if (credential === null) {
    throw new InvalidRequest("the Bearer credential must be 'Bearer <token>'", "malformed Bearer credential");
  }
  return credential[1];
}
