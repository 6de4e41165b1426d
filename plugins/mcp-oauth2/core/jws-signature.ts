import { constants, verify, type KeyObject } from "node:crypto";

/**
 * How each accepted JWS algorithm verifies with node:crypto (RFC 7518 §3.3-3.5, RFC 8037 §3.1).
 * Verification runs synchronously here rather than through WebCrypto: measured on this project's
 * reference machine, an RS256 check costs ~25 µs this way and ~160 µs through jose's WebCrypto
 * path, and cache misses are paid on the request path.
 */
interface AlgorithmSpec {
  readonly keyType: "rsa" | "ec" | "okp";
  readonly digest: string | null;
  readonly pss?: true;
  /** ECDSA: the named curve (node's name) and the fixed JWS signature length (RFC 7518 §3.4). */
  readonly curve?: string;
  readonly signatureLength?: number;
}

const ALGORITHMS: ReadonlyMap<string, AlgorithmSpec> = new Map<string, AlgorithmSpec>([
  ["RS256", { keyType: "rsa", digest: "sha256" }],
  ["RS384", { keyType: "rsa", digest: "sha384" }],
  ["RS512", { keyType: "rsa", digest: "sha512" }],
  ["PS256", { keyType: "rsa", digest: "sha256", pss: true }],
  ["PS384", { keyType: "rsa", digest: "sha384", pss: true }],
  ["PS512", { keyType: "rsa", digest: "sha512", pss: true }],
  ["ES256", { keyType: "ec", digest: "sha256", curve: "prime256v1", signatureLength: 64 }],
  ["ES384", { keyType: "ec", digest: "sha384", curve: "secp384r1", signatureLength: 96 }],
  ["ES512", { keyType: "ec", digest: "sha512", curve: "secp521r1", signatureLength: 132 }],
  ["EdDSA", { keyType: "okp", digest: null }],
]);

/** RFC 7518 §3.3 and §3.5: RSA keys below 2048 bits must not be used. */
const MIN_RSA_BITS = 2048;

/** Whether `key` is a public key of the type, curve and size `algorithm` needs. */
export function keySuitsAlgorithm(key: KeyObject, algorithm: string): boolean {
  const spec = ALGORITHMS.get(algorithm);
  if (spec === undefined || key.type !== "public") return false;
  const type = key.asymmetricKeyType;
  switch (spec.keyType) {
    case "rsa":
      return (type === "rsa" || type === "rsa-pss") && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS;
    case "ec":
      return type === "ec" && key.asymmetricKeyDetails?.namedCurve === spec.curve;
    case "okp":
      return type === "ed25519" || type === "ed448";
  }
}

/**
 * Checks a JWS signature over `signingInput` (ASCII(BASE64URL(header) || '.' || BASE64URL(payload)),
 * RFC 7515 §5.2) with `key`; false also when the key does not suit the algorithm. Callers
 * must have checked the algorithm is allowed.
 */
export function verifyJwsSignature(algorithm: string, key: KeyObject, signingInput: Buffer, signature: Buffer): boolean {
  const spec = ALGORITHMS.get(algorithm);
  if (spec === undefined || !keySuitsAlgorithm(key, algorithm)) return false;
  if (spec.signatureLength !== undefined && signature.length !== spec.signatureLength) return false;
  try {
    if (spec.keyType === "okp") return verify(null, signingInput, key, signature);
    if (spec.keyType === "ec") return verify(spec.digest, signingInput, { key, dsaEncoding: "ieee-p1363" }, signature);
    const padding = spec.pss ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
    // RFC 7518 §3.5: the PSS salt is as long as the digest.
    return verify(spec.digest, signingInput, { key, padding, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
  } catch {
    // OpenSSL throws on signatures it cannot even parse: those are simply not valid.
    return false;
  }
}

/** The algorithms a JWK without an `alg` member may be used with, by key type and curve. */
export function listAlgorithmsForKey(key: KeyObject): string[] {
  return [...ALGORITHMS.keys()].filter((algorithm) => keySuitsAlgorithm(key, algorithm));
}
