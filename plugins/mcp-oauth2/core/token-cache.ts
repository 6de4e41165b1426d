import { hash } from "node:crypto";
import { LRUCache, type Perf } from "lru-cache";
import type { VerifiedToken } from "./access-token-verifier";

export interface TokenCacheSettings {
  /** Verdicts are only reused under the verification settings they were reached with. */
  readonly verificationFingerprint: string;
  readonly tokenCacheTtlSeconds: number;
  readonly tokenCacheSize: number;
}

/** Caches of different configurations kept at once (one per route configuration in practice). */
const MAX_CONFIGURATIONS = 32;

/**
 * Verified tokens by SHA-256 of the token (hashToken; the token itself is never kept), per verification
 * settings, each bounded (LRU) and kept for min(token_cache_ttl, exp - now). Callers re-check
 * `exp` on every hit.
 */
export class TokenCache {
  private readonly caches = new LRUCache<string, LRUCache<string, VerifiedToken>>({ max: MAX_CONFIGURATIONS });
  /** The clock verdicts age by; lru-cache's own (performance.now) when undefined. */
  private readonly clock: Perf | undefined;

  /**
   * @param now - the time in milliseconds, for tests that move a clock themselves (it must stay
   *   above 0: lru-cache reads a start time of 0 as "no ttl"); lru-cache's real clock by default.
   */
  constructor(now?: () => number) {
    this.clock = now === undefined ? undefined : { now };
  }

  private cacheFor(settings: TokenCacheSettings, create: boolean): LRUCache<string, VerifiedToken> | undefined {
    if (settings.tokenCacheTtlSeconds <= 0 || settings.tokenCacheSize < 1) return undefined;
    const key = `${settings.verificationFingerprint}/${settings.tokenCacheSize}`;
    let cache = this.caches.get(key);
    if (cache === undefined && create) {
      cache = new LRUCache<string, VerifiedToken>({ max: settings.tokenCacheSize, perf: this.clock });
      this.caches.set(key, cache);
    }
    return cache;
  }

  /** The cached verdict for the token with this key (see hashToken), if any; expiry is not re-checked here. */
  get(settings: TokenCacheSettings, tokenKey: string): VerifiedToken | undefined {
    return this.cacheFor(settings, false)?.get(tokenKey);
  }

  /** Remembers a verdict until min(ttl, exp - now). */
  remember(settings: TokenCacheSettings, tokenKey: string, verified: VerifiedToken, nowSeconds: number): void {
    const ttlSeconds = Math.min(settings.tokenCacheTtlSeconds, verified.expiresAt - nowSeconds);
    if (ttlSeconds <= 0) return;
    this.cacheFor(settings, true)?.set(tokenKey, verified, { ttl: Math.floor(ttlSeconds * 1000) });
  }
}

/** The cache key of a token: its SHA-256, so the token itself is never kept. Computed once per request. */
export function hashToken(token: string): string {
  // One-shot hashing: no Hash object per request on the cached path.
  return hash("sha256", token, "base64url");
}
