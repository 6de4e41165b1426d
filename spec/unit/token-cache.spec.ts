import { expect } from "chai";
import type { VerifiedToken } from "../../plugins/mcp-oauth2/core/access-token-verifier";
import { createHash } from "node:crypto";
import { hashToken, TokenCache } from "../../plugins/mcp-oauth2/core/token-cache";

describe("token-cache", () => {
  const settings = { verificationFingerprint: "fp-a", tokenCacheTtlSeconds: 300, tokenCacheSize: 3 };
  const now = Date.now() / 1000;
  const verdict = (expiresIn: number): VerifiedToken => ({ issuer: "https://as.example.com", scopes: ["mcp:tools"], expiresAt: now + expiresIn, identityValues: [], consumerClaimValues: [] });

  it("keys tokens by their SHA-256 (base64url), never by the token itself", () => {
    const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";
    expect(hashToken(token)).to.equal(createHash("sha256").update(token).digest("base64url"));
    expect(hashToken(token)).not.to.contain("eyJ");
  });

  it("returns a remembered verdict for the same token and settings only", () => {
    const cache = new TokenCache();
    cache.remember(settings, "token-1", verdict(600), now);
    expect(cache.get(settings, "token-1")?.scopes).to.deep.equal(["mcp:tools"]);
    expect(cache.get(settings, "token-2")).to.equal(undefined);
    expect(cache.get({ ...settings, verificationFingerprint: "fp-b" }, "token-1")).to.equal(undefined);
  });

  it("keeps at most token_cache_size verdicts per configuration, dropping the least recently used", () => {
    const cache = new TokenCache();
    for (const token of ["t1", "t2", "t3"]) cache.remember(settings, token, verdict(600), now);
    cache.get(settings, "t1");
    cache.remember(settings, "t4", verdict(600), now);
    expect(["t1", "t2", "t3", "t4"].map((token) => cache.get(settings, token) !== undefined)).to.deep.equal([true, false, true, true]);
  });

  it("does not remember anything with token_cache_ttl 0 or a token already past exp", () => {
    const cache = new TokenCache();
    cache.remember({ ...settings, tokenCacheTtlSeconds: 0 }, "t1", verdict(600), now);
    expect(cache.get({ ...settings, tokenCacheTtlSeconds: 0 }, "t1")).to.equal(undefined);
    cache.remember(settings, "t2", verdict(-1), now);
    expect(cache.get(settings, "t2")).to.equal(undefined);
  });

  it("keeps nothing with token_cache_size 0, and one verdict with token_cache_size 1", () => {
    const cache = new TokenCache();
    const none = { ...settings, tokenCacheSize: 0 };
    cache.remember(none, "t1", verdict(600), now);
    expect(cache.get(none, "t1")).to.equal(undefined);
    const one = { ...settings, tokenCacheSize: 1 };
    cache.remember(one, "t1", verdict(600), now);
    expect(cache.get(one, "t1")?.issuer).to.equal("https://as.example.com");
    cache.remember(one, "t2", verdict(600), now);
    expect([cache.get(one, "t1"), cache.get(one, "t2")].map((cached) => cached !== undefined)).to.deep.equal([false, true]);
  });

  it("does not remember a token expiring this very second (a ttl of 0 would mean no expiry to lru-cache)", () => {
    let clock = 1_000_000;
    const cache = new TokenCache(() => clock);
    cache.remember(settings, "t1", verdict(0), now);
    clock += 3_600_000;
    expect(cache.get(settings, "t1")).to.equal(undefined);
  });

  it("forgets a verdict at exp when exp comes before the ttl", () => {
    // A fresh cache per probe: lru-cache reuses its last clock reading for 1 ms of real time.
    const probeAfter = (elapsedMs: number): VerifiedToken | undefined => {
      let clock = 1_000_000;
      const cache = new TokenCache(() => clock);
      cache.remember(settings, "short", verdict(60), now);
      clock += elapsedMs;
      return cache.get(settings, "short");
    };
    expect(probeAfter(59_999)).not.to.equal(undefined);
    expect(probeAfter(60_001)).to.equal(undefined);
  });
});
