import { constants, verify, type KeyObject } from "node:crypto";

/**
 * Checks one JWS signature: `signingInput` is ASCII(BASE64URL(header) || '.' || BASE64URL(payload))
 * (RFC 7515 §5.2), `signature` the decoded third part. Never throws: unreadable signatures are false.
 */
export type JwsVerifier = (signingInput: Buffer, signature: Buffer) => boolean;

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

/** The asymmetric JWS algorithms the gate can verify (RFC 7518 §3, RFC 8037 §3.1), in preference order. */
export const SUPPORTED_ALGORITHMS: readonly string[] = [...ALGORITHMS.keys()];

/** RFC 7518 §3.3 and §3.5: RSA keys below 2048 bits must not be used. */
const MIN_RSA_BITS = 2048;
/**
 * NIST SP 800-56B / FIPS 186-5: an odd public exponent of at least 65537 (and below 2^256). With
 * e = 1 every "signature" s verifies, as s^1 mod n = s: a key set that publishes one would let
 * anyone forge tokens.
 */
const MIN_RSA_EXPONENT = 65537n;
const MAX_RSA_EXPONENT = 1n << 256n;

function hasSoundRsaParameters(key: KeyObject): boolean {
  // Stryker disable next-line OptionalChaining: defence in depth: node gives every public asymmetric key its details.
  const { modulusLength = 0, publicExponent = 0n } = key.asymmetricKeyDetails ?? {};
  return modulusLength >= MIN_RSA_BITS && publicExponent >= MIN_RSA_EXPONENT && publicExponent < MAX_RSA_EXPONENT && publicExponent % 2n === 1n;
}

/** Whether `key` is a public key of the type, curve, size and exponent `algorithm` needs. */
function keySuitsAlgorithm(key: KeyObject, spec: AlgorithmSpec): boolean {
  if (key.type !== "public") return false;
  const type = key.asymmetricKeyType;
  switch (spec.keyType) {
    case "rsa":
      // An rsa-pss key (never imported from a JWK) is bound to PSS padding by OpenSSL.
      return (type === "rsa" || (type === "rsa-pss" && spec.pss === true)) && hasSoundRsaParameters(key);
    case "ec":
      // Stryker disable next-line ConditionalExpression,OptionalChaining: defence in depth: only EC keys have a namedCurve, and node gives every public key its details.
      return type === "ec" && key.asymmetricKeyDetails?.namedCurve === spec.curve;
    case "okp":
      return type === "ed25519" || type === "ed448";
  }
}

/** A DER INTEGER (X.690 §8.3) of an unsigned big-endian number: minimal, positive. */
function encodeDerInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const signPadding = bytes[start]! >= 0x80 ? 1 : 0;
  const length = signPadding + bytes.length - start;
  const encoded = Buffer.alloc(2 + length);
  encoded[0] = 0x02;
  encoded[1] = length;
  bytes.copy(encoded, 2 + signPadding, start);
  return encoded;
}

/**
 * The JWS form of an ECDSA signature, R || S of fixed length (RFC 7518 §3.4), as the DER
 * Ecdsa-Sig-Value OpenSSL reads by default (RFC 3279 §2.2.3). Converted here so node:crypto gets
 * the KeyObject itself: an options object ({ key, dsaEncoding }) costs ~25 µs more per check in
 * Node 24's key preparation, measured, about a third of an ES256 verification.
 */
function toDerSignature(signature: Buffer): Buffer {
  const half = signature.length / 2;
  const r = encodeDerInteger(signature.subarray(0, half));
  const s = encodeDerInteger(signature.subarray(half));
  const contentLength = r.length + s.length;
  // ES512's sequence can exceed 127 bytes: long-form length (X.690 §8.1.3.5).
  const header = contentLength < 0x80 ? [0x30, contentLength] : [0x30, 0x81, contentLength];
  return Buffer.concat([Buffer.from(header), r, s]);
}

function buildVerifier(key: KeyObject, spec: AlgorithmSpec): JwsVerifier {
  switch (spec.keyType) {
    case "okp":
      return (signingInput, signature) => verify(null, signingInput, key, signature);
    case "ec": {
      const { digest, signatureLength } = spec;
      return (signingInput, signature) => signature.length === signatureLength && verify(digest, signingInput, key, toDerSignature(signature));
    }
    case "rsa": {
      // PKCS #1 v1.5 is node's default padding for rsa keys: the KeyObject alone is the fast path.
      if (spec.pss !== true) return (signingInput, signature) => verify(spec.digest, signingInput, key, signature);
      // RFC 7518 §3.5: the PSS salt is as long as the digest.
      const pssKey = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
      return (signingInput, signature) => verify(spec.digest, signingInput, pssKey, signature);
    }
  }
}

/**
 * The verifier of `key` for `algorithm`, with the key checked once here (type, curve, at least
 * 2048 RSA bits, public) instead of on every token; undefined when the key does not suit it.
 */
export function prepareJwsVerifier(key: KeyObject, algorithm: string): JwsVerifier | undefined {
  const spec = ALGORITHMS.get(algorithm);
  if (spec === undefined || !keySuitsAlgorithm(key, spec)) return undefined;
  const check = buildVerifier(key, spec);
  return (signingInput, signature) => {
    try {
      return check(signingInput, signature);
    } catch {
      // OpenSSL throws on signatures it cannot even parse: those are simply not valid.
      return false;
    }
  };
}

/** Verifiers by algorithm for a key: for `algorithms`, or every algorithm it suits (a JWK without `alg`). */
export function prepareJwsVerifiers(key: KeyObject, algorithms: Iterable<string> = SUPPORTED_ALGORITHMS): Map<string, JwsVerifier> {
  const verifiers = new Map<string, JwsVerifier>();
  for (const algorithm of algorithms) {
    const verifier = prepareJwsVerifier(key, algorithm);
    if (verifier !== undefined) verifiers.set(algorithm, verifier);
  }
  return verifiers;
}
