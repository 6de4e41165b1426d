import { KeyObject } from "node:crypto";
import { importJWK, type JWK } from "jose";
import { prepareJwsVerifiers, type JwsVerifier } from "./jws-signature";
import { describeFetchError, readBoundedText } from "./outbound-http";
import { InvalidToken, KeysUnavailable, quoteText } from "./refusals";
import { isJsonObject, parseJsonWithUniqueKeys } from "./unique-key-json";

export interface SigningKey {
  readonly kid?: string;
  /** A signature check per algorithm the key may verify (its `alg`, or every one it suits). */
  readonly verifiers: ReadonlyMap<string, JwsVerifier>;
}

export interface KeyRequest {
  readonly kid?: string;
  readonly algorithm: string;
}

export interface FetchSettings {
  readonly timeoutMs: number;
  /** Minimum time between two fetches of one key set, except the first (RFC 8725 §3.10 spirit: no fetch floods). */
  readonly cooldownMs: number;
}

/** Fetches a URL's JSON text within a time limit; replaceable for tests of the registry alone. */
export type FetchText = (url: string, timeoutMs: number) => Promise<string>;

/** Keys are refreshed in the background after this long, so removed keys stop being trusted. */
const MAX_KEY_SET_AGE_MS = 300_000;
const MAX_JWKS_BYTES = 512 * 1024;
const MAX_KEYS = 100;
/**
 * The key families the gate verifies, each with an algorithm jose imports it with; the JWK's own
 * `alg` binds it afterwards (prepareJwsVerifiers). Symmetric (oct) keys have none.
 */
const IMPORT_ALGORITHM: ReadonlyMap<unknown, string> = new Map([
  ["RSA", "RS256"],
  ["P-256", "ES256"],
  ["P-384", "ES384"],
  ["P-521", "ES512"],
  ["Ed25519", "EdDSA"],
  ["Ed448", "EdDSA"],
]);

interface KeySetState {
  keys?: readonly SigningKey[];
  attemptedAt: number;
  /** Why the last attempt failed; cleared by a success. */
  failure?: string;
  inflight?: Promise<void>;
}

async function fetchJwksText(url: string, timeoutMs: number): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`answered HTTP ${response.status}`);
  }
  return readBoundedText(response.body, response.headers.get("content-length"), MAX_JWKS_BYTES);
}

/**
 * A signing key from one JWK, or undefined when the JWK must not verify tokens: encryption keys
 * (`use: "enc"`, RFC 7517 §4.2), keys whose key_ops exclude verify, symmetric or private keys,
 * RSA keys under 2048 bits, and JWKs jose refuses for their algorithm.
 */
async function importSigningKey(jwk: unknown): Promise<SigningKey | undefined> {
  if (!isJsonObject(jwk)) return undefined;
  const { kty, crv, use, key_ops: keyOps, alg, kid, d } = jwk;
  if (use !== undefined && use !== "sig") return undefined;
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes("verify"))) return undefined;
  // Stryker disable next-line ConditionalExpression: defence in depth: a private JWK would import as a private key, which prepareJwsVerifiers refuses.
  if (d !== undefined) return undefined;
  const importAlgorithm = IMPORT_ALGORITHM.get(crv ?? kty);
  // Stryker disable next-line ConditionalExpression: defence in depth: without an algorithm jose imports by the JWK's alg (an oct key as bytes, skipped below) or refuses, and prepareJwsVerifiers knows no other family.
  if (importAlgorithm === undefined) return undefined;
  // ext is left to jose, which imports public keys as extractable: KeyObject.from deprecates others from Node 24 on.
  const { ext: _ext, ...publicJwk } = jwk;
  // jose refuses a JWK whose curve, key_ops or members do not fit: the key is skipped.
  const imported = await importJWK(publicJwk as JWK, importAlgorithm).catch(() => undefined);
  if (imported === undefined) return undefined;
  // A symmetric JWK that names a curve ({kty: "oct", crv: "P-256"}) reaches jose, which imports it as bytes.
  if (imported instanceof Uint8Array) return undefined;
  const verifiers = prepareJwsVerifiers(KeyObject.from(imported), typeof alg === "string" ? [alg] : undefined);
  if (verifiers.size === 0) return undefined;
  return { ...(typeof kid === "string" ? { kid } : {}), verifiers };
}

async function parseKeySet(text: string): Promise<SigningKey[]> {
  let document: unknown;
  try {
    document = parseJsonWithUniqueKeys(text);
  } catch {
    throw new Error("is not JSON");
  }
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error("has no 'keys' array (RFC 7517 §5)");
  const imported = await Promise.all(keys.slice(0, MAX_KEYS).map(importSigningKey));
  const usable = imported.filter((key): key is SigningKey => key !== undefined);
  if (usable.length === 0) throw new Error("has no usable signing key");
  return usable;
}

/**
 * Key sets by JWKS URL, shared by every plugin instance of the process (instances are recreated
 * per worker and per config change; the keys stay). A key set is fetched on first use, refetched
 * when a token names an unknown kid (at most once per cooldown, one fetch at a time per URL), and
 * refreshed in the background when old. A failed fetch keeps the last good key set.
 */
export class JwksRegistry {
  private readonly states = new Map<string, KeySetState>();

  constructor(
    private readonly fetchText: FetchText = fetchJwksText,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The keys that may verify a token with this kid and algorithm (several when the token has no
   * kid). Throws InvalidToken when the key set is known and has no such key, KeysUnavailable when
   * no key set could be fetched to decide.
   */
  async findKeys(jwksUri: string, request: KeyRequest, settings: FetchSettings): Promise<readonly SigningKey[]> {
    const state = this.stateOf(jwksUri);
    let keys = this.selectKeys(state, request);
    // No key set yet, or none with this kid: fetch, unless one failed or was fetched within the cooldown.
    if (keys.length === 0 && this.mayRefetch(state, settings)) {
      await this.refresh(jwksUri, state, settings);
      keys = this.selectKeys(state, request);
    } else if (this.now() - state.attemptedAt >= Math.max(MAX_KEY_SET_AGE_MS, settings.cooldownMs)) {
      void this.refresh(jwksUri, state, settings);
    }
    if (keys.length > 0) return keys;
    if (state.failure !== undefined) {
      const retryAfterMs = state.attemptedAt + settings.cooldownMs - this.now();
      throw new KeysUnavailable(`JWKS ${jwksUri} ${state.failure}`, Math.max(1, Math.ceil(retryAfterMs / 1000)));
    }
    const wanted = request.kid === undefined ? `no kid, algorithm ${request.algorithm}` : `kid ${quoteText(request.kid)}, algorithm ${request.algorithm}`;
    throw new InvalidToken("no signing key of the authorization server matches the token", `no key in JWKS ${jwksUri} for ${wanted}`);
  }

  private stateOf(jwksUri: string): KeySetState {
    let state = this.states.get(jwksUri);
    if (state === undefined) {
      state = { attemptedAt: -Infinity };
      this.states.set(jwksUri, state);
    }
    return state;
  }

  private selectKeys(state: KeySetState, request: KeyRequest): readonly SigningKey[] {
    return (state.keys ?? []).filter(
      (key) => (request.kid === undefined || key.kid === request.kid) && key.verifiers.has(request.algorithm),
    );
  }

  private mayRefetch(state: KeySetState, settings: FetchSettings): boolean {
    return state.inflight !== undefined || this.now() - state.attemptedAt >= settings.cooldownMs;
  }

  /** Single flight per URL (a refresh while one is in flight joins it); never rejects: the outcome is recorded in the state. */
  private refresh(jwksUri: string, state: KeySetState, settings: FetchSettings): Promise<void> {
    if (state.inflight !== undefined) return state.inflight;
    state.attemptedAt = this.now();
    state.inflight = this.fetchText(jwksUri, settings.timeoutMs)
      .then(parseKeySet)
      .then(
        (keys) => {
          state.keys = keys;
          state.failure = undefined;
        },
        (error: unknown) => {
          state.failure = describeFetchError(error, settings.timeoutMs);
        },
      )
      .finally(() => {
        state.inflight = undefined;
      });
    return state.inflight;
  }
}
