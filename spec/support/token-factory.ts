import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTHeaderParameters, type JWTPayload } from "jose";
import { KeyObject, randomUUID, sign } from "node:crypto";

/** A signing key of a test authorization server, with its public JWK. */
export interface TestSigningKey {
  readonly kid: string;
  readonly algorithm: string;
  readonly privateKey: Parameters<SignJWT["sign"]>[0];
  readonly publicJwk: JWK;
}

/** Creates a key pair for `algorithm` (EdDSA uses Ed25519) and its public JWK with kid, alg and use. */
export async function createSigningKey(algorithm = "RS256", kid = `${algorithm.toLowerCase()}-${Math.random().toString(36).slice(2, 10)}`): Promise<TestSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true, ...(algorithm === "EdDSA" ? { crv: "Ed25519" } : {}) });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: algorithm, use: "sig" };
  return { kid, algorithm, privateKey, publicJwk };
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

/**
 * Signs any header and payload text with an RS256 test key, bypassing jose's checks: for hostile
 * tokens (crit extensions, duplicate members, odd types) that a real signer would refuse to make.
 */
export function signRawRs256(key: TestSigningKey, header: unknown, payload: unknown): string {
  const signingInput = `${encodeSegment(header)}.${encodeSegment(payload)}`;
  const privateKey = key.privateKey instanceof KeyObject ? key.privateKey : KeyObject.from(key.privateKey as Parameters<typeof KeyObject.from>[0]);
  return `${signingInput}.${sign("sha256", Buffer.from(signingInput), privateKey).toString("base64url")}`;
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
