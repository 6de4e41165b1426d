import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTHeaderParameters, type JWTPayload } from "jose";
import { KeyObject, randomUUID, sign, type SignKeyObjectInput } from "node:crypto";

/** A signing key of a test authorization server, with its public JWK. */
export interface TestSigningKey {
  readonly kid: string;
  readonly algorithm: string;
  /** A KeyObject, which jose and node:crypto both sign with. */
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
}

/** Creates a key pair for `algorithm` (EdDSA uses Ed25519) and its public JWK with kid, alg and use. */
export async function createSigningKey(algorithm = "RS256", kid = `${algorithm.toLowerCase()}-${Math.random().toString(36).slice(2, 10)}`): Promise<TestSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true, ...(algorithm === "EdDSA" ? { crv: "Ed25519" } : {}) });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: algorithm, use: "sig" };
  return { kid, algorithm, privateKey: KeyObject.from(privateKey), publicJwk };
}

export interface TokenOptions {
  readonly issuer: string;
  readonly audience?: string | string[];
  /** Seconds from now; default one hour. */
  readonly expiresIn?: number;
  readonly claims?: JWTPayload & Record<string, unknown>;
  /** Extra or overriding protected header members (typ defaults to Keycloak's "JWT"). */
  readonly header?: Partial<JWTHeaderParameters> & Record<string, unknown>;
}

/** Signs an access token shaped like Keycloak's (header typ JWT; sub, azp, scope) unless overridden. */
export async function signAccessToken(key: TestSigningKey, options: TokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = {
    iss: options.issuer,
    ...(options.audience === undefined ? {} : { aud: options.audience }),
    sub: "user-1",
    azp: "mcp-client",
    iat: now,
    exp: now + (options.expiresIn ?? 3600),
    ...options.claims,
  };
  return new SignJWT(payload).setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: "JWT", ...options.header }).sign(key.privateKey);
}

/** base64url of a JSON text or of raw text, for hand-built hostile tokens. */
export function encodeSegment(value: unknown): string {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}

/** node:crypto's digest and key form for the key's JWS algorithm (RFC 7518 §3.3-3.4, RFC 8037 §3.1). */
function signingParameters(key: TestSigningKey): { digest: string | null; signingKey: KeyObject | SignKeyObjectInput } {
  switch (key.algorithm) {
    case "RS256":
      return { digest: "sha256", signingKey: key.privateKey };
    case "ES256":
      // JWS wants the raw r || s signature, not node's default DER.
      return { digest: "sha256", signingKey: { key: key.privateKey, dsaEncoding: "ieee-p1363" } };
    case "EdDSA":
      return { digest: null, signingKey: key.privateKey };
    default:
      throw new Error(`signCompactJws does not sign ${key.algorithm}`);
  }
}

/**
 * Signs any header and payload (JSON values, or raw text taken as is) with the key's algorithm
 * (RS256, ES256 or EdDSA) into a compact JWS, synchronously and bypassing jose's checks: for
 * hostile tokens (crit extensions, duplicate members, odd types) that a real signer would refuse to
 * make, and for the bench's token pools. The header's `alg` is not read: it may lie.
 */
export function signCompactJws(key: TestSigningKey, header: unknown, payload: unknown): string {
  const { digest, signingKey } = signingParameters(key);
  const signingInput = `${encodeSegment(header)}.${encodeSegment(payload)}`;
  return `${signingInput}.${sign(digest, Buffer.from(signingInput), signingKey).toString("base64url")}`;
}

/** {@link signCompactJws} with an RS256 key, under the name the hostile-token suites know. */
export function signRawRs256(key: TestSigningKey, header: unknown, payload: unknown): string {
  if (key.algorithm !== "RS256") throw new Error(`signRawRs256 needs an RS256 key, got ${key.algorithm}`);
  return signCompactJws(key, header, payload);
}

/** Signs tokens for one issuer as a real authorization server does: each one distinct (its own jti). */
export function createTokenIssuer(key: TestSigningKey, defaults: TokenOptions): (overrides?: Partial<TokenOptions>) => Promise<string> {
  return (overrides = {}) =>
    signAccessToken(key, {
      ...defaults,
      ...overrides,
      claims: { jti: randomUUID(), ...defaults.claims, ...overrides.claims },
      header: { ...defaults.header, ...overrides.header },
    });
}
