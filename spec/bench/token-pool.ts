// Distinct signed access tokens, made before any timing: signing must not run in a measured loop.
import { KeyObject, sign, type SignKeyObjectInput } from "node:crypto";
import { encodeSegment, type TestSigningKey } from "../support/token-factory";

/** What the pool's tokens carry besides iss/aud/exp and a distinct jti. */
export interface PoolClaims {
  readonly issuer: string;
  readonly audience: string;
  readonly scope: string;
  readonly expiresInSeconds: number;
}

/** node:crypto's way to sign each JWS algorithm the bench uses (RFC 7518 §3.3-3.4, RFC 8037 §3.1). */
function signingParameters(key: TestSigningKey): { digest: string | null; key: SignKeyObjectInput | KeyObject } {
  const privateKey = KeyObject.from(key.privateKey as Parameters<typeof KeyObject.from>[0]);
  switch (key.algorithm) {
    case "RS256":
      return { digest: "sha256", key: privateKey };
    case "ES256":
      return { digest: "sha256", key: { key: privateKey, dsaEncoding: "ieee-p1363" } };
    case "EdDSA":
      return { digest: null, key: privateKey };
    default:
      throw new Error(`the token pool does not sign ${key.algorithm}`);
  }
}

/**
 * `count` valid access tokens shaped like Keycloak's (typ JWT; sub, azp, scope), all different
 * (jti), signed with `key` synchronously with node:crypto (RS256 ~0.3 ms each, ES256/EdDSA ~0.04 ms).
 */
export function signTokenPool(key: TestSigningKey, count: number, claims: PoolClaims): string[] {
  const { digest, key: signingKey } = signingParameters(key);
  const header = encodeSegment({ alg: key.algorithm, kid: key.kid, typ: "JWT" });
  const issuedAt = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, (_, index) => {
    const payload = encodeSegment({
      iss: claims.issuer,
      aud: claims.audience,
      sub: `user-${index}`,
      azp: "mcp-client",
      scope: claims.scope,
      iat: issuedAt,
      exp: issuedAt + claims.expiresInSeconds,
      jti: `bench-${index}`,
    });
    const signingInput = `${header}.${payload}`;
    return `${signingInput}.${sign(digest, Buffer.from(signingInput), signingKey).toString("base64url")}`;
  });
}
