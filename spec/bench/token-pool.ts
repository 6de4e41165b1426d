// Distinct signed access tokens, made before any timing: signing must not run in a measured loop.
import { signCompactJws, type TestSigningKey } from "../support/token-factory";

/** What the pool's tokens carry besides iss/aud/exp and a distinct jti. */
export interface PoolClaims {
  readonly issuer: string;
  readonly audience: string;
  readonly scope: string;
  readonly expiresInSeconds: number;
}

/**
 * `count` valid access tokens shaped like Keycloak's (typ JWT; sub, azp, scope), all different
 * (jti), signed with `key` synchronously with node:crypto (RS256 ~0.3 ms each, ES256/EdDSA ~0.04 ms).
 */
export function signTokenPool(key: TestSigningKey, count: number, claims: PoolClaims): string[] {
  const header = { alg: key.algorithm, kid: key.kid, typ: "JWT" };
  const issuedAt = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, (_, index) =>
    signCompactJws(key, header, {
      iss: claims.issuer,
      aud: claims.audience,
      sub: `user-${index}`,
      azp: "mcp-client",
      scope: claims.scope,
      iat: issuedAt,
      exp: issuedAt + claims.expiresInSeconds,
      jti: `bench-${index}`,
    }),
  );
}
