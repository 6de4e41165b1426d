import { expect } from "chai";
import { generateKeyPairSync } from "node:crypto";
import { JwksRegistry } from "../../plugins/mcp-oauth2/core/jwks-registry";
import { InvalidToken, KeysUnavailable } from "../../plugins/mcp-oauth2/core/refusals";
import { expectRejection } from "../support/error-assertions";
import { JwksServer } from "../support/jwks-server";
import { createSigningKey, type TestSigningKey } from "../support/token-factory";

describe("jwks-registry", () => {
  let jwks: JwksServer;
  let rsa: TestSigningKey;
  let ec: TestSigningKey;
  let clock: number;
  let registry: JwksRegistry;
  const settings = { timeoutMs: 2000, cooldownMs: 10_000 };

  before(async () => {
    rsa = await createSigningKey("RS256", "rsa-1");
    ec = await createSigningKey("ES256", "ec-1");
    jwks = await JwksServer.start();
  });

  after(() => jwks.close());

  beforeEach(() => {
    jwks.keys = [rsa.publicJwk, ec.publicJwk];
    jwks.fault = undefined;
    jwks.requestCount = 0;
    clock = 1_000_000;
    registry = new JwksRegistry(undefined, () => clock);
  });

  it("selects keys by kid and algorithm, from a key set fetched as JSON", async () => {
    const keys = await registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, settings);
    expect(keys.map((key) => key.kid)).to.deep.equal(["ec-1"]);
    expect(jwks.lastAccept).to.equal("application/json");
    await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "RS256" }, settings), InvalidToken);
    expect(jwks.requestCount).to.equal(1);
  });

  it("offers every suitable key when the token has no kid, and derives algorithms for alg-less JWKs", async () => {
    const { alg: _alg, ...rsaWithoutAlg } = rsa.publicJwk;
    jwks.keys = [rsaWithoutAlg, ec.publicJwk];
    const keys = await registry.findKeys(jwks.jwksUri, { algorithm: "PS256" }, settings);
    expect(keys.map((key) => key.kid)).to.deep.equal(["rsa-1"]);
    expect([...keys[0].verifiers.keys()]).to.deep.equal(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]);
  });

  it("binds a JWK that names its alg to that algorithm only (RFC 7517 §4.4)", async () => {
    await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "PS256" }, settings), InvalidToken);
    await expectRejection(registry.findKeys(jwks.jwksUri, { algorithm: "RS384" }, settings), InvalidToken);
    const keys = await registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings);
    expect([...keys[0].verifiers.keys()]).to.deep.equal(["RS256"]);
  });

  it("derives the algorithm of EC and OKP JWKs without alg from their curve", async () => {
    const withoutAlg = async (algorithm: string, kid: string) => {
      const { alg: _alg, ...jwk } = (await createSigningKey(algorithm, kid)).publicJwk;
      return jwk;
    };
    jwks.keys = [await withoutAlg("ES384", "p384"), await withoutAlg("ES512", "p521"), await withoutAlg("EdDSA", "ed25519")];
    for (const [kid, algorithm] of [["p384", "ES384"], ["p521", "ES512"], ["ed25519", "EdDSA"]]) {
      const keys = await registry.findKeys(jwks.jwksUri, { kid, algorithm }, settings);
      expect(keys.map((key) => [...key.verifiers.keys()]), kid).to.deep.equal([[algorithm]]);
    }
  });

  it("reads the first 100 keys of a key set and ignores the rest", async () => {
    jwks.keys = Array.from({ length: 101 }, (_, index) => ({ ...rsa.publicJwk, kid: `k${index + 1}` }));
    expect((await registry.findKeys(jwks.jwksUri, { kid: "k100", algorithm: "RS256" }, settings)).length).to.equal(1);
    const error = await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "k101", algorithm: "RS256" }, settings), InvalidToken);
    expect(error.detail).to.equal(`no key in JWKS ${jwks.jwksUri} for kid "k101", algorithm RS256`);
  });

  it("refuses a key set larger than 512 KiB, and reads one of exactly 512 KiB", async () => {
    const padded = (bytes: number) => {
      const document = JSON.stringify({ keys: [rsa.publicJwk], padding: "" });
      return `${document.slice(0, -2)}${"x".repeat(bytes - document.length)}"}`;
    };
    jwks.fault = { kind: "body", body: padded(512 * 1024 + 1) };
    const error = await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings), KeysUnavailable);
    expect(error.detail).to.equal(`JWKS ${jwks.jwksUri} is larger than 524288 bytes`);
    jwks.fault = { kind: "body", body: padded(512 * 1024) };
    clock += settings.cooldownMs;
    expect((await registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings)).length).to.equal(1);
  });

  it("uses a JWK without use or key_ops, or with key_ops [verify], and skips entries that are not JWKs without losing the others", async () => {
    const { use: _use, ...withoutUse } = rsa.publicJwk;
    jwks.fault = { kind: "body", body: JSON.stringify({ keys: [null, "key", 5, [], withoutUse, { ...ec.publicJwk, key_ops: ["verify"] }] }) };
    expect((await registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings)).length).to.equal(1);
    expect((await registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, settings)).length, "key_ops [verify]").to.equal(1);
  });

  it("answers KeysUnavailable for a key set whose every key is unusable, or that is JSON null, or a 204", async () => {
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
    const faults = [
      { fault: { kind: "body", body: JSON.stringify({ keys: [{ ...weak, kid: "weak", alg: "RS256" }] }) } as const, detail: "has no usable signing key" },
      { fault: { kind: "body", body: "null" } as const, detail: "has no 'keys' array (RFC 7517 §5)" },
      { fault: { kind: "status", status: 204 } as const, detail: "answered HTTP 204" },
    ];
    for (const { fault, detail } of faults) {
      registry = new JwksRegistry(undefined, () => clock);
      jwks.fault = fault;
      const error = await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "weak", algorithm: "RS256" }, settings), KeysUnavailable);
      expect(error.detail).to.equal(`JWKS ${jwks.jwksUri} ${detail}`);
    }
  });

  it("names the algorithm a token without kid asked for when no key has it", async () => {
    const error = await expectRejection(registry.findKeys(jwks.jwksUri, { algorithm: "ES384" }, settings), InvalidToken);
    expect(error.detail).to.equal(`no key in JWKS ${jwks.jwksUri} for no kid, algorithm ES384`);
  });

  it("never uses encryption keys, keys without verify in key_ops, symmetric or private keys", async () => {
    jwks.keys = [
      { ...rsa.publicJwk, kid: "enc", use: "enc" },
      { ...rsa.publicJwk, kid: "ops", key_ops: ["encrypt"] },
      // WebCrypto imports a public key with no usages at all: only the gate's own check refuses it.
      { ...rsa.publicJwk, kid: "no-ops", key_ops: [] },
      { ...rsa.publicJwk, kid: "ops-object", key_ops: { verify: true } as unknown as string[] },
      // jose refuses an RSA JWK without its modulus: skipped, the others stay usable.
      { kty: "RSA", kid: "no-modulus", e: "AQAB" },
      { kty: "oct", kid: "oct", k: "c2VjcmV0" },
      // A symmetric key naming a curve must not pass for an EC or OKP key (jose imports any oct JWK as bytes).
      { kty: "oct", kid: "oct-p256", crv: "P-256", k: "c2VjcmV0" },
      { kty: "oct", kid: "oct-ed25519", crv: "Ed25519", k: "c2VjcmV0", alg: "EdDSA" },
      { ...rsa.publicJwk, kid: "private", d: "AQAB" },
      // With a public exponent of 1 every "signature" verifies: anyone could forge tokens.
      { ...rsa.publicJwk, kid: "exponent-1", e: "AQ" },
      rsa.publicJwk,
    ];
    for (const kid of ["enc", "ops", "no-ops", "ops-object", "no-modulus", "oct", "private", "exponent-1"]) {
      await expectRejection(registry.findKeys(jwks.jwksUri, { kid, algorithm: "RS256" }, settings), InvalidToken);
    }
    for (const [kid, algorithm] of [["oct-p256", "ES256"], ["oct-p256", "HS256"], ["oct-ed25519", "EdDSA"]] as const) {
      await expectRejection(registry.findKeys(jwks.jwksUri, { kid, algorithm }, settings), InvalidToken);
    }
    expect((await registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings)).length).to.equal(1);
  });

  it("refetches an unknown kid at most once per cooldown, one fetch for many concurrent requests", async () => {
    await registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings);
    clock += 10_000;
    const outcomes = await Promise.allSettled(Array.from({ length: 200 }, () => registry.findKeys(jwks.jwksUri, { kid: "unknown", algorithm: "RS256" }, settings)));
    expect(outcomes.every((outcome) => outcome.status === "rejected" && outcome.reason instanceof InvalidToken)).to.equal(true);
    expect(jwks.requestCount).to.equal(2);
    clock += 9_999;
    await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "unknown", algorithm: "RS256" }, settings), InvalidToken);
    expect(jwks.requestCount).to.equal(2);
  });

  it("keeps serving the last good keys while the JWKS fails, and reports 503 only for keys it cannot have", async () => {
    await registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings);
    jwks.fault = { kind: "status", status: 500 };
    clock += 10_000;
    const unavailable = await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "new", algorithm: "RS256" }, settings), KeysUnavailable);
    expect(unavailable.detail).to.equal(`JWKS ${jwks.jwksUri} answered HTTP 500`);
    expect(unavailable.retryAfterSeconds).to.equal(10);
    expect((await registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings)).length).to.equal(1);
    jwks.fault = undefined;
    clock += 10_000;
    jwks.keys = [rsa.publicJwk, { ...ec.publicJwk, kid: "new" }];
    expect((await registry.findKeys(jwks.jwksUri, { kid: "new", algorithm: "ES256" }, settings)).length).to.equal(1);
  });

  it("answers KeysUnavailable for a first fetch that fails, times out or returns something else than a key set", async () => {
    const faults = [
      { fault: { kind: "delay", ms: 1000 } as const, detail: "timed out after 100 ms" },
      { fault: { kind: "body", body: "<html>" } as const, detail: "is not JSON" },
      { fault: { kind: "body", body: '{"keys":{}}' } as const, detail: "has no 'keys' array (RFC 7517 §5)" },
      { fault: { kind: "body", body: '{"keys":[{"kty":"RSA","use":"enc"}]}' } as const, detail: "has no usable signing key" },
    ];
    for (const { fault, detail } of faults) {
      registry = new JwksRegistry(undefined, () => clock);
      jwks.fault = fault;
      const error = await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, { timeoutMs: 100, cooldownMs: 0 }), KeysUnavailable);
      expect(error.detail).to.equal(`JWKS ${jwks.jwksUri} ${detail}`);
    }
  });

  it("does not refetch a failed key set before the cooldown, then recovers", async () => {
    jwks.fault = { kind: "status", status: 503 };
    await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings), KeysUnavailable);
    await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings), KeysUnavailable);
    expect(jwks.requestCount).to.equal(1);
    jwks.fault = undefined;
    clock += 10_000;
    expect((await registry.findKeys(jwks.jwksUri, { kid: "rsa-1", algorithm: "RS256" }, settings)).length).to.equal(1);
    expect(jwks.requestCount).to.equal(2);
  });

  it("starts the background refresh at exactly 300 s, not before, while still answering from the old keys", async () => {
    // A probe for an unknown kid with a cooldown longer than the age joins a refresh in flight and fetches nothing itself.
    const probe = () => expectRejection(registry.findKeys(jwks.jwksUri, { kid: "unknown", algorithm: "ES256" }, { ...settings, cooldownMs: 400_000 }), InvalidToken);
    await registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, settings);
    jwks.keys = [rsa.publicJwk];
    clock += 299_999;
    expect((await registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, settings)).length).to.equal(1);
    await probe();
    expect(jwks.requestCount, "no refresh before 300 s").to.equal(1);
    clock += 1;
    expect((await registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, settings)).length, "the old keys meanwhile").to.equal(1);
    await probe();
    expect(jwks.requestCount, "a refresh at 300 s").to.equal(2);
    await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, settings), InvalidToken);
  });

  it("waits for a cooldown longer than 300 s before refreshing in the background", async () => {
    const slow = { ...settings, cooldownMs: 400_000 };
    await registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, slow);
    clock += 399_999;
    await registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, slow);
    await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "unknown", algorithm: "ES256" }, { ...settings, cooldownMs: 500_000 }), InvalidToken);
    expect(jwks.requestCount).to.equal(1);
  });

  it("refreshes an old key set in the background, so removed keys stop verifying", async () => {
    await registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, settings);
    jwks.keys = [rsa.publicJwk];
    clock += 300_000;
    expect((await registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, settings)).length).to.equal(1);
    // An unknown kid joins the refresh in flight instead of fetching again: once it is refused, the refresh is over.
    await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "unknown", algorithm: "ES256" }, settings), InvalidToken);
    expect(jwks.requestCount).to.equal(2);
    await expectRejection(registry.findKeys(jwks.jwksUri, { kid: "ec-1", algorithm: "ES256" }, settings), InvalidToken);
  });
});
