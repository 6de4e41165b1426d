import type { AuthorizationServer, VerificationPolicy } from "./gate-config";
import type { JwksRegistry } from "./jwks-registry";
import { InvalidToken, quoteText, shortenText } from "./refusals";
import { DuplicateKeyError, isJsonObject, NestingTooDeep, parseJsonWithUniqueKeys } from "./unique-key-json";

/** What the gate keeps from a verified access token. */
export interface VerifiedToken {
  readonly issuer: string;
  readonly subject?: string;
  /** `azp` (Keycloak, OIDC) or `client_id` (RFC 9068 §2.2). */
  readonly clientId?: string;
  /** Values of the ACL claim (`acl_claim`): a space-delimited string or an array of strings. */
  readonly scopes: readonly string[];
  /** `exp`, in seconds since the epoch. */
  readonly expiresAt: number;
  /** Header values of the identity claims (`upstream_headers` order); undefined for absent claims. */
  readonly identityValues: readonly (string | undefined)[];
  /** Values of the consumer claims (`consumer_claim` order); undefined unless a non-empty string. */
  readonly consumerClaimValues: readonly (string | undefined)[];
}

/** Far above any real access token (Keycloak's carry a few KB) and below nginx's header limits. */
const MAX_TOKEN_LENGTH = 16384;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const THREE_PARTS = /^[^.]*\.[^.]*\.[^.]*$/;
const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/** RFC 9068 §2.1 `at+jwt` (with or without the `application/` prefix, RFC 7515 §4.1.9) or Keycloak's `JWT`. */
const ACCEPTED_TYPES = new Set(["jwt", "at+jwt", "application/at+jwt", "application/jwt"]);
/** RFC 7515 §4.1.10 content types of a nested JWT (the `application/` prefix may be omitted). */
const NESTED_TOKEN_TYPES = new Set(["jwt", "application/jwt"]);
const utf8 = new TextDecoder("utf-8", { fatal: true });

export type JsonObject = Record<string, unknown>;

/** The token is past `exp`, allowing `clockSkew` seconds (RFC 7519 §4.1.4). */
export function isExpired(expiresAt: number, clockSkewSeconds: number, nowSeconds: number): boolean {
  return nowSeconds >= expiresAt + clockSkewSeconds;
}

/**
 * A claim or header value for the operator's log, as JSON, cut to 120 characters. JSON has no
 * Infinity or NaN (JSON.stringify writes them as null): a number such as 1e400 parses as Infinity,
 * which is named as such.
 */
export function describeValue(value: unknown): string {
  if (typeof value === "number" && !Number.isFinite(value)) return `${value} (not a finite number)`;
  return shortenText(JSON.stringify(value) ?? String(value), 120);
}

/** Whom a verified token speaks for, in an operator log line. */
export function describeTokenHolder(verified: VerifiedToken): string {
  return shortenText(verified.subject ?? verified.clientId ?? "unknown subject", 100);
}

function decodeJsonObject(segment: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = parseJsonWithUniqueKeys(utf8.decode(Buffer.from(segment, "base64url")));
  } catch (error) {
    // V8's own message quotes the decoded text: part of a token must not reach the log.
    const reason = error instanceof DuplicateKeyError || error instanceof NestingTooDeep ? error.message : "not UTF-8 JSON";
    throw new InvalidToken(`the token ${what} is not valid JSON`, `token ${what}: ${reason}`);
  }
  if (!isJsonObject(value)) throw new InvalidToken(`the token ${what} is not a JSON object`);
  return value;
}

/**
 * RFC 4648 §3.5: the bits a last character carries beyond the encoded bytes must be zero. Decoders
 * ignore them, so a lenient check would accept 16 spellings of one signature, each its own token
 * (and its own cache entry); a length of 4n+1 encodes no whole byte.
 */
function isCanonicalBase64url(part: string): boolean {
  const remainder = part.length % 4;
  if (remainder === 0) return true;
  if (remainder === 1) return false;
  const unusedBits = remainder === 2 ? 0b1111 : 0b11;
  return (BASE64URL_ALPHABET.indexOf(part[part.length - 1]) & unusedBits) === 0;
}

/** Refuses tokens far larger than any real access token, before anything else is done with them. */
export function checkTokenLength(token: string): void {
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidToken("the token is too large", `token of ${token.length} characters`);
}

/**
 * Whether the token takes the JWT path: three dot-separated parts (a compact JWS, RFC 7515 §7.1),
 * whatever their characters. Such a token is verified locally and refused there unless it is a
 * canonical compact JWS; it is never introspected, so no respelling of a real JWT (`<jwt>=`, a
 * character outside base64url) reaches an introspection endpoint as a token of its own. Any other
 * number of dots is an opaque token (Ory Hydra's have one). The decision reads nothing else, so no
 * token can be taken both ways.
 */
export function hasJwtShape(token: string): boolean {
  return THREE_PARTS.test(token);
}

function splitCompactJws(token: string): [string, string, string] {
  checkTokenLength(token);
  const parts = token.split(".");
  // RFC 7516 §7.1: five parts is an encrypted JWT, which this resource server cannot read.
  if (parts.length === 5) throw new InvalidToken("encrypted tokens (JWE) are not accepted");
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) throw new InvalidToken("the token is not a signed JWT");
  if (!parts.every(isCanonicalBase64url)) throw new InvalidToken("the token is not canonically base64url-encoded", "a token segment has non-zero padding bits or an impossible length");
  return parts as [string, string, string];
}

/** RFC 8725 §3.1 and §3.11: an allowed asymmetric alg, an access-token type, no extensions we cannot honour. */
function checkHeader(header: JsonObject, policy: VerificationPolicy): { algorithm: string; kid?: string } {
  const { alg, typ, cty, crit, kid } = header;
  if (typeof alg !== "string" || !policy.allowedAlgorithms.has(alg)) {
    throw new InvalidToken("the token's signing algorithm is not accepted", `alg ${describeValue(alg)} is not in allowed_algorithms`);
  }
  if (typ !== undefined && (typeof typ !== "string" || !ACCEPTED_TYPES.has(typ.toLowerCase()))) {
    throw new InvalidToken("the token type is not an access token", `header typ ${describeValue(typ)}`);
  }
  // RFC 7519 §5.2: cty JWT announces a nested token, whose claims this gate would not be reading.
  if (typeof cty === "string" && NESTED_TOKEN_TYPES.has(cty.toLowerCase())) throw new InvalidToken("nested tokens are not accepted", `header cty ${describeValue(cty)}`);
  // RFC 7515 §4.1.11: a recipient that does not understand a critical extension must reject.
  if (crit !== undefined) throw new InvalidToken("the token uses critical header extensions", `crit ${describeValue(crit)}`);
  if (kid !== undefined && typeof kid !== "string") throw new InvalidToken("the token's key id is not a string");
  return { algorithm: alg, kid };
}

function findAuthorizationServer(payload: JsonObject, policy: VerificationPolicy): AuthorizationServer {
  const { iss } = payload;
  const server = typeof iss === "string" ? policy.issuers.get(iss) : undefined;
  if (server === undefined) {
    throw new InvalidToken("the token was not issued by an accepted authorization server", `unknown issuer ${describeValue(iss)}; accepted: ${[...policy.issuers.keys()].join(", ")}`);
  }
  return server;
}

function checkTimes(payload: JsonObject, policy: VerificationPolicy, nowSeconds: number): number {
  const { exp, nbf, iat } = payload;
  const skew = policy.clockSkewSeconds;
  // RFC 9068 §2.2: exp is required in JWT access tokens.
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new InvalidToken("the token has no valid expiry (exp)", `exp ${describeValue(exp)}`);
  if (isExpired(exp, skew, nowSeconds)) throw new InvalidToken("the token has expired", `exp ${exp} is before now ${Math.floor(nowSeconds)} (clock_skew ${skew})`);
  if (nbf !== undefined && (typeof nbf !== "number" || nbf > nowSeconds + skew)) {
    throw new InvalidToken("the token is not valid yet (nbf)", `nbf ${describeValue(nbf)}, now ${Math.floor(nowSeconds)}`);
  }
  if (iat !== undefined && (typeof iat !== "number" || iat > nowSeconds + skew)) {
    throw new InvalidToken("the token was issued in the future (iat)", `iat ${describeValue(iat)}, now ${Math.floor(nowSeconds)}`);
  }
  return exp;
}

/** RFC 7519 §4.1.3 and RFC 8707: the token must be meant for this resource. */
function checkAudience(payload: JsonObject, server: AuthorizationServer): void {
  const { aud } = payload;
  const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) && aud.every((entry) => typeof entry === "string") ? aud : undefined;
  if (audiences === undefined || !audiences.includes(server.audience)) {
    throw new InvalidToken("the token is not meant for this resource (audience)", `audience mismatch: expected ${describeValue(server.audience)}, got ${describeValue(aud)}`);
  }
}

/**
 * Keycloak preset: only access tokens (payload typ "Bearer"; ID and refresh tokens are signed by
 * the same key), and never a token whose only audience is Keycloak's default `account`.
 */
function checkKeycloakToken(payload: JsonObject): void {
  if (payload.typ !== "Bearer") throw new InvalidToken("the token is not a Keycloak access token", `Keycloak token typ ${describeValue(payload.typ)}, expected "Bearer"`);
  const { aud } = payload;
  const audiences = Array.isArray(aud) ? aud : [aud];
  if (audiences.every((audience) => audience === "account")) {
    throw new InvalidToken("the token is not meant for this resource (audience)", "Keycloak token for the account audience only: add an Audience mapper to the client scope");
  }
}

/** Header value of a claim: scalars as text, arrays joined with ", ", objects as JSON; never control characters. */
function formatIdentityValue(value: unknown, claimPath: readonly string[]): string | undefined {
  if (value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0)) return undefined;
  const text = Array.isArray(value)
    ? value.map((element) => (typeof element === "object" ? JSON.stringify(element) : String(element))).join(", ")
    : typeof value === "object"
      ? JSON.stringify(value)
      : String(value);
  return checkHeaderSafeClaim(text, claimPath.join("."));
}

/**
 * The claim's text, if it can be an upstream header value. RFC 9110 §5.5: a field value with CR,
 * LF or NUL could smuggle headers; the token is refused instead of the value being rewritten.
 */
export function checkHeaderSafeClaim(text: string, claimName: string): string {
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(text)) {
    throw new InvalidToken("a token claim cannot be passed to the upstream", `claim ${claimName} holds control characters`);
  }
  return text;
}

/** Reads a claim by dot path (`realm_access.roles`); a claim literally named with dots wins. */
export function readClaim(payload: JsonObject, path: readonly string[]): unknown {
  const literal = path.join(".");
  if (Object.hasOwn(payload, literal)) return payload[literal];
  let value: unknown = payload;
  for (const segment of path) {
    if (!isJsonObject(value) || !Object.hasOwn(value, segment)) return undefined;
    value = value[segment];
  }
  return value;
}

/** A space-delimited string (RFC 8693 §4.2 `scope`) or an array of strings (roles, `mcp_scopes`). */
function readScopes(value: unknown): string[] {
  if (typeof value === "string") return value.split(" ").filter((scope) => scope !== "");
  if (Array.isArray(value)) return value.filter((scope): scope is string => typeof scope === "string");
  return [];
}

function readOptionalString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * Verifies a JWT access token (RFC 9068, RFC 8725): compact JWS with an allowed asymmetric
 * algorithm, signed by a key from the JWKS of the authorization server named by `iss` (an unknown
 * issuer fails before anything is fetched), `aud` containing that server's audience, `exp`
 * required, `exp`/`nbf`/`iat` within clock skew. Throws InvalidToken or KeysUnavailable.
 *
 * Does NOT check revocation (token-introspection.ts does, where configured) or any claim beyond
 * these; `jku`, `x5u`, `jwk` and `x5c` headers are ignored, never fetched or trusted.
 */
export async function verifyAccessToken(token: string, policy: VerificationPolicy, registry: JwksRegistry, nowSeconds: number): Promise<VerifiedToken> {
  const [encodedHeader, encodedPayload, encodedSignature] = splitCompactJws(token);
  const { algorithm, kid } = checkHeader(decodeJsonObject(encodedHeader, "header"), policy);
  const payload = decodeJsonObject(encodedPayload, "payload");
  const server = findAuthorizationServer(payload, policy);
  const keys = await registry.findKeys(server.jwksUri, { kid, algorithm }, {
    timeoutMs: policy.httpTimeoutMs,
    cooldownMs: policy.jwksRefetchCooldownMs,
  });
  // The segments are base64url (checked above): ASCII, the same bytes in UTF-8.
  const signingInput = Buffer.from(`${encodedHeader}.${encodedPayload}`);
  const signature = Buffer.from(encodedSignature, "base64url");
  // Stryker disable next-line OptionalChaining: defence in depth: findKeys returns only keys with a verifier for the algorithm.
  if (!keys.some((signingKey) => signingKey.verifiers.get(algorithm)?.(signingInput, signature) === true)) {
    throw new InvalidToken("the token signature is invalid", `signature check failed with ${keys.length} key(s) of ${server.jwksUri}${kid === undefined ? "" : ` for kid ${quoteText(kid)}`}`);
  }
  return readVerifiedClaims(payload, server, policy, nowSeconds);
}

/**
 * The claim checks every accepted token passes, whether its claims come from a verified JWT or
 * from an authorization server's introspection answer (RFC 7662 §2.2 uses the same names): `exp`
 * required, `exp`/`nbf`/`iat` within clock skew, the Keycloak preset's checks, `aud` containing
 * `server`'s audience. Returns what the gate keeps: issuer, subject, client id, grants, identity
 * values. Throws InvalidToken. Does NOT check `iss` (the caller has matched `server` already).
 */
export function readVerifiedClaims(payload: JsonObject, server: AuthorizationServer, policy: VerificationPolicy, nowSeconds: number): VerifiedToken {
  const expiresAt = checkTimes(payload, policy, nowSeconds);
  if (policy.keycloakCompat) checkKeycloakToken(payload);
  checkAudience(payload, server);
  const subject = readOptionalString(payload.sub);
  const clientId = readOptionalString(payload.azp) ?? readOptionalString(payload.client_id);
  const scopes = readScopes(readClaim(payload, policy.aclClaimPath));
  // Keycloak preset: realm roles grant like scopes, without pointing acl_claim at them.
  const grants = policy.keycloakCompat ? [...new Set([...scopes, ...readScopes(readClaim(payload, ["realm_access", "roles"]))])] : scopes;
  return {
    issuer: server.issuer,
    ...(subject === undefined ? {} : { subject }),
    ...(clientId === undefined ? {} : { clientId }),
    scopes: grants,
    expiresAt,
    identityValues: policy.identityClaims.map((claimPath) => formatIdentityValue(readClaim(payload, claimPath), claimPath)),
    consumerClaimValues: policy.consumerClaims.map((claimPath) => {
      const value = readClaim(payload, claimPath);
      return typeof value === "string" && value !== "" ? value : undefined;
    }),
  };
}
