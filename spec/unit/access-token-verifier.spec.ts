import { createHmac } from "node:crypto";
import { expect } from "chai";
import { isExpired, readClaim, verifyAccessToken } from "../../plugins/mcp-oauth2/core/access-token-verifier";
import { compileGatePolicy, type VerificationPolicy } from "../../plugins/mcp-oauth2/core/gate-config";
import { JwksRegistry } from "../../plugins/mcp-oauth2/core/jwks-registry";
import { InvalidToken, KeysUnavailable } from "../../plugins/mcp-oauth2/core/refusals";
import { expectRejection } from "../support/error-assertions";
import { JwksServer } from "../support/jwks-server";
import { createSigningKey, encodeSegment, signAccessToken, signRawRs256, type TestSigningKey } from "../support/token-factory";

const AUDIENCE = "https://mcp.example.com/mcp";

describe("access-token-verifier", () => {
  let jwks: JwksServer;
  let otherJwks: JwksServer;
  let rsaKey: TestSigningKey;
  let otherIssuerKey: TestSigningKey;
  let policy: VerificationPolicy;
  let registry: JwksRegistry;
  /** The registry's clock, moved past jwks_refetch_cooldown where a test needs a refetch. */
  let registryClockMs: number;
  const now = () => Date.now() / 1000;

  before(async () => {
    rsaKey = await createSigningKey("RS256", "rsa-1");
    otherIssuerKey = await createSigningKey("RS256", "other-1");
    jwks = await JwksServer.start([rsaKey.publicJwk]);
    otherJwks = await JwksServer.start([otherIssuerKey.publicJwk]);
    policy = compileGatePolicy({
      authorization_servers: [
        { url: jwks.url, issuer: jwks.url, audience: AUDIENCE },
        { url: otherJwks.url, audience: "https://other.example.com/mcp" },
      ],
      acl_claim: "realm_access.roles",
    }).verification;
  });

  after(async () => {
    await jwks.close();
    await otherJwks.close();
  });

  beforeEach(() => {
    registryClockMs = Date.now();
    registry = new JwksRegistry(undefined, () => registryClockMs);
    jwks.requestCount = 0;
    otherJwks.requestCount = 0;
  });

  async function expectInvalid(token: string, description: string, verification: VerificationPolicy = policy): Promise<InvalidToken> {
    const error = await expectRejection(verifyAccessToken(token, verification, registry, now()), InvalidToken);
    expect(error.description).to.equal(description);
    return error;
  }

  it("accepts a Keycloak-shaped token and keeps issuer, subject, client id, expiry and ACL claim values", async () => {
    const token = await signAccessToken(rsaKey, {
      issuer: jwks.url,
      audience: [AUDIENCE, "account"],
      expiresIn: 600,
      claims: { sub: "alice", azp: "mcp-client", realm_access: { roles: ["mcp:tools", "offline_access"] } },
    });
    const verified = await verifyAccessToken(token, policy, registry, now());
    expect(verified).to.deep.include({ issuer: jwks.url, subject: "alice", clientId: "mcp-client", scopes: ["mcp:tools", "offline_access"] });
    expect(verified.expiresAt).to.be.closeTo(now() + 600, 5);
  });

  it("accepts typ at+jwt and an absent typ, and client_id when azp is absent", async () => {
    for (const typ of ["at+jwt", "application/at+jwt", undefined]) {
      const token = await signAccessToken(rsaKey, { issuer: jwks.url, audience: AUDIENCE, header: { typ }, claims: { azp: undefined, client_id: "machine" } });
      expect((await verifyAccessToken(token, policy, registry, now())).clientId).to.equal("machine");
    }
  });

  it("refuses an unknown issuer without fetching any key set", async () => {
    const token = await signAccessToken(rsaKey, { issuer: "https://evil.example.com", audience: AUDIENCE });
    const error = await expectInvalid(token, "the token was not issued by an accepted authorization server");
    expect(error.detail).to.contain('unknown issuer "https://evil.example.com"');
    expect(jwks.requestCount + otherJwks.requestCount).to.equal(0);
  });

  it("verifies against the issuer's own key set only: another issuer's key does not verify", async () => {
    const token = await signAccessToken(otherIssuerKey, { issuer: jwks.url, audience: AUDIENCE, header: { kid: "rsa-1" } });
    await expectInvalid(token, "the token signature is invalid");
    expect(otherJwks.requestCount).to.equal(0);
  });

  it("refuses a token whose audience is only Keycloak's account, naming expected and received values to the operator", async () => {
    const token = await signAccessToken(rsaKey, { issuer: jwks.url, audience: "account" });
    const error = await expectInvalid(token, "the token is not meant for this resource (audience)");
    expect(error.detail).to.equal(`audience mismatch: expected "${AUDIENCE}", got "account"`);
  });

  it("refuses a missing or object audience", async () => {
    await expectInvalid(await signAccessToken(rsaKey, { issuer: jwks.url }), "the token is not meant for this resource (audience)");
    await expectInvalid(await signAccessToken(rsaKey, { issuer: jwks.url, claims: { aud: { value: AUDIENCE } as unknown as string } }), "the token is not meant for this resource (audience)");
  });

  it("checks exp (required, numeric), nbf and iat with the clock skew", async () => {
    const issued = { issuer: jwks.url, audience: AUDIENCE };
    await expectInvalid(await signAccessToken(rsaKey, { ...issued, expiresIn: -31 }), "the token has expired");
    await verifyAccessToken(await signAccessToken(rsaKey, { ...issued, expiresIn: -20 }), policy, registry, now());
    await expectInvalid(await signAccessToken(rsaKey, { ...issued, claims: { exp: undefined } }), "the token has no valid expiry (exp)");
    await expectInvalid(await signAccessToken(rsaKey, { ...issued, claims: { exp: String(now() + 60) as unknown as number } }), "the token has no valid expiry (exp)");
    await expectInvalid(await signAccessToken(rsaKey, { ...issued, claims: { nbf: Math.floor(now()) + 120 } }), "the token is not valid yet (nbf)");
    await expectInvalid(await signAccessToken(rsaKey, { ...issued, claims: { iat: Math.floor(now()) + 120 } }), "the token was issued in the future (iat)");
  });

  describe("the clock-skew boundaries of exp, nbf and iat, at a fixed now", () => {
    const at = 1_800_000_000;
    const skew = 30;

    function signAt(claims: Record<string, unknown> | string): string {
      const payload = typeof claims === "string" ? claims : { iss: jwks.url, aud: AUDIENCE, exp: at + 600, ...claims };
      return signRawRs256(rsaKey, { alg: "RS256", kid: "rsa-1" }, payload);
    }

    async function expectInvalidAt(token: string, description: string): Promise<InvalidToken> {
      const error = await expectRejection(verifyAccessToken(token, policy, registry, at), InvalidToken);
      expect(error.description).to.equal(description);
      return error;
    }

    it("uses a clock skew of 30 seconds here", () => expect(policy.clockSkewSeconds).to.equal(skew));

    it("accepts a token until exp + skew, and refuses it from then on", async () => {
      expect((await verifyAccessToken(signAt({ exp: at - skew + 1 }), policy, registry, at)).expiresAt).to.equal(at - skew + 1);
      const error = await expectInvalidAt(signAt({ exp: at - skew }), "the token has expired");
      expect(error.detail).to.equal(`exp ${at - skew} is before now ${at} (clock_skew ${skew})`);
    });

    it("accepts nbf and iat up to now + skew, and refuses one second later", async () => {
      await verifyAccessToken(signAt({ nbf: at + skew, iat: at + skew }), policy, registry, at);
      expect((await expectInvalidAt(signAt({ nbf: at + skew + 1 }), "the token is not valid yet (nbf)")).detail).to.equal(`nbf ${at + skew + 1}, now ${at}`);
      expect((await expectInvalidAt(signAt({ iat: at + skew + 1 }), "the token was issued in the future (iat)")).detail).to.equal(`iat ${at + skew + 1}, now ${at}`);
    });

    it("accepts a token without iat and nbf (both optional, RFC 7519 §4.1.5-4.1.6)", async () => {
      expect((await verifyAccessToken(signAt({}), policy, registry, at)).expiresAt).to.equal(at + 600);
    });

    it("refuses nbf and iat that are not numbers", async () => {
      expect((await expectInvalidAt(signAt({ nbf: String(at) }), "the token is not valid yet (nbf)")).detail).to.equal(`nbf "${at}", now ${at}`);
      expect((await expectInvalidAt(signAt({ iat: null }), "the token was issued in the future (iat)")).detail).to.equal(`iat null, now ${at}`);
    });

    it("refuses an exp that JSON reads as Infinity (1e400), and logs it as not a finite number: no token lives forever", async () => {
      const error = await expectInvalidAt(signAt(`{"iss":"${jwks.url}","aud":"${AUDIENCE}","exp":1e400}`), "the token has no valid expiry (exp)");
      expect(error.detail).to.equal("exp Infinity (not a finite number)");
      const nbf = await expectInvalidAt(signAt(`{"iss":"${jwks.url}","aud":"${AUDIENCE}","exp":${at + 600},"nbf":1e400}`), "the token is not valid yet (nbf)");
      expect(nbf.detail).to.equal(`nbf Infinity (not a finite number), now ${at}`);
      const negative = await expectInvalidAt(signAt(`{"iss":"${jwks.url}","aud":"${AUDIENCE}","exp":-1e400}`), "the token has no valid expiry (exp)");
      expect(negative.detail).to.equal("exp -Infinity (not a finite number)");
    });
  });

  describe("headers, claims and signatures in their less common shapes", () => {
    const claims = () => ({ iss: jwks.url, aud: AUDIENCE, exp: Math.floor(now()) + 600 });

    it("accepts a token without kid signed by any of several keys of the set, and says which keys failed otherwise", async () => {
      const second = await createSigningKey("RS256", "rsa-2");
      jwks.keys = [rsaKey.publicJwk, second.publicJwk];
      try {
        const verified = await verifyAccessToken(signRawRs256(second, { alg: "RS256" }, claims()), policy, registry, now());
        expect(verified.issuer).to.equal(jwks.url);
        const forged = `${signRawRs256(second, { alg: "RS256" }, claims()).split(".").slice(0, 2).join(".")}.${signRawRs256(second, { alg: "RS256" }, { ...claims(), sub: "x" }).split(".")[2]}`;
        expect((await expectInvalid(forged, "the token signature is invalid")).detail).to.equal(`signature check failed with 2 key(s) of ${jwks.jwksUri}`);
        const withKid = signRawRs256(second, { alg: "RS256", kid: "rsa-1" }, claims());
        expect((await expectInvalid(withKid, "the token signature is invalid")).detail).to.equal(`signature check failed with 1 key(s) of ${jwks.jwksUri} for kid "rsa-1"`);
      } finally {
        jwks.keys = [rsaKey.publicJwk];
      }
    });

    it("refuses a header or payload that is JSON but not an object, and a typ or kid that is not a string", async () => {
      const signature = signRawRs256(rsaKey, { alg: "RS256" }, claims()).split(".")[2];
      await expectInvalid(`${encodeSegment([1])}.${encodeSegment(claims())}.${signature}`, "the token header is not a JSON object");
      await expectInvalid(`${encodeSegment({ alg: "RS256" })}.${encodeSegment(`"text"`)}.${signature}`, "the token payload is not a JSON object");
      const notJson = await expectInvalid(`${encodeSegment("{")}.${encodeSegment(claims())}.${signature}`, "the token header is not valid JSON");
      // V8's own message would quote the decoded text: part of a token in the log.
      expect(notJson.detail).to.equal("token header: not UTF-8 JSON");
      expect((await expectInvalid(signRawRs256(rsaKey, { alg: "RS256", typ: 5 }, claims()), "the token type is not an access token")).detail).to.equal("header typ 5");
      await expectInvalid(signRawRs256(rsaKey, { alg: "RS256", kid: 1 }, claims()), "the token's key id is not a string");
    });

    it("tells the operator why a token is too large, not canonical, critical or from an unknown issuer", async () => {
      expect((await expectInvalid(`${"a".repeat(10000)}.${"b".repeat(7000)}.c`, "the token is too large")).detail).to.equal("token of 17003 characters");
      expect((await expectInvalid(`${"a".repeat(10000)}.${"b".repeat(6382)}.c`, "the token is too large")).detail).to.equal("token of 16385 characters");
      // 16,384 characters are read: this one is refused for what it holds, not for its size.
      await expectInvalid(`${"a".repeat(10000)}.${"b".repeat(6381)}.c`, "the token is not canonically base64url-encoded");
      const token = signRawRs256(rsaKey, { alg: "RS256", kid: "rsa-1" }, claims());
      expect((await expectInvalid(`${token}AAA`, "the token is not canonically base64url-encoded")).detail).to.equal("a token segment has non-zero padding bits or an impossible length");
      expect((await expectInvalid(signRawRs256(rsaKey, { alg: "RS256", crit: ["exp"], exp: 1 }, claims()), "the token uses critical header extensions")).detail).to.equal('crit ["exp"]');
      const unknown = await expectInvalid(signRawRs256(rsaKey, { alg: "RS256" }, { ...claims(), iss: "https://evil.example.com" }), "the token was not issued by an accepted authorization server");
      expect(unknown.detail).to.equal(`unknown issuer "https://evil.example.com"; accepted: ${jwks.url}, ${otherJwks.url}`);
    });

    it("refuses an audience array holding anything but strings, even with the right audience in it", async () => {
      await expectInvalid(signRawRs256(rsaKey, { alg: "RS256" }, { ...claims(), aud: [AUDIENCE, 5] }), "the token is not meant for this resource (audience)");
    });

    it("keeps only non-empty scopes of a space-delimited claim and only the strings of an array claim", async () => {
      const scopePolicy = compileGatePolicy({ authorization_servers: [{ url: jwks.url, audience: AUDIENCE }], acl_claim: "scope" }).verification;
      const spaced = await verifyAccessToken(signRawRs256(rsaKey, { alg: "RS256" }, { ...claims(), scope: " mcp:tools  mcp:resources " }), scopePolicy, registry, now());
      expect(spaced.scopes).to.deep.equal(["mcp:tools", "mcp:resources"]);
      const mixed = await verifyAccessToken(signRawRs256(rsaKey, { alg: "RS256" }, { ...claims(), realm_access: { roles: ["mcp:tools", 5, null, ["x"]] } }), policy, registry, now());
      expect(mixed.scopes).to.deep.equal(["mcp:tools"]);
    });

    it("keeps subject, client id and consumer claim values only when they are (non-empty) strings", async () => {
      const consumerPolicy = compileGatePolicy({ authorization_servers: [{ url: jwks.url, audience: AUDIENCE }], consumer_claim: ["azp", "tenant", "empty", "team.name"] }).verification;
      const token = signRawRs256(rsaKey, { alg: "RS256" }, { ...claims(), sub: 5, azp: ["a"], tenant: 7, empty: "", team: { name: "blue" } });
      const verified = await verifyAccessToken(token, consumerPolicy, registry, now());
      expect(Object.keys(verified)).to.deep.equal(["issuer", "scopes", "expiresAt", "identityValues", "consumerClaimValues"]);
      expect(verified.consumerClaimValues).to.deep.equal([undefined, undefined, undefined, "blue"]);
    });

    it("names a dotted claim path in full when its value holds control characters", async () => {
      const dotted = compileGatePolicy({ authorization_servers: [{ url: jwks.url, audience: AUDIENCE }], upstream_headers: [{ header: "X-Team", claim: "team.name" }] }).verification;
      const error = await expectInvalid(signRawRs256(rsaKey, { alg: "RS256" }, { ...claims(), team: { name: "a\nb" } }), "a token claim cannot be passed to the upstream", dotted);
      expect(error.detail).to.equal("claim team.name holds control characters");
    });
  });

  it("refuses algorithms outside allowed_algorithms, other token types and critical extensions", async () => {
    const strict = compileGatePolicy({ authorization_servers: [{ url: jwks.url, audience: AUDIENCE }], allowed_algorithms: ["ES256"] }).verification;
    const rs256Token = await signAccessToken(rsaKey, { issuer: jwks.url, audience: AUDIENCE });
    expect((await expectRejection(verifyAccessToken(rs256Token, strict, registry, now()), InvalidToken)).detail).to.equal('alg "RS256" is not in allowed_algorithms');
    await expectInvalid(await signAccessToken(rsaKey, { issuer: jwks.url, audience: AUDIENCE, header: { typ: "logout+jwt" } }), "the token type is not an access token");
    const claims = { iss: jwks.url, aud: AUDIENCE, exp: Math.floor(now()) + 600 };
    await expectInvalid(signRawRs256(rsaKey, { alg: "RS256", kid: "rsa-1", crit: ["exp"], exp: 1 }, claims), "the token uses critical header extensions");
  });

  it("refuses a nested token (cty JWT), even when its payload holds claims", async () => {
    const claims = { iss: jwks.url, aud: AUDIENCE, exp: Math.floor(now()) + 600 };
    for (const cty of ["JWT", "jwt", "application/jwt"]) {
      const error = await expectInvalid(signRawRs256(rsaKey, { alg: "RS256", kid: "rsa-1", cty }, claims), "nested tokens are not accepted");
      expect(error.detail).to.equal(`header cty ${JSON.stringify(cty)}`);
    }
  });

  it("refuses alg none and HS256 signed with the public key", async () => {
    const claims = { iss: jwks.url, aud: AUDIENCE, exp: Math.floor(now()) + 600 };
    await expectInvalid(`${encodeSegment({ alg: "none", typ: "JWT" })}.${encodeSegment(claims)}.`, "the token is not a signed JWT");
    const signingInput = `${encodeSegment({ alg: "HS256", kid: "rsa-1" })}.${encodeSegment(claims)}`;
    const mac = createHmac("sha256", JSON.stringify(rsaKey.publicJwk)).update(signingInput).digest("base64url");
    await expectInvalid(`${signingInput}.${mac}`, "the token's signing algorithm is not accepted");
  });

  it("refuses JWE, malformed segments, duplicate claims and oversized tokens", async () => {
    await expectInvalid("a.b.c.d.e", "encrypted tokens (JWE) are not accepted");
    await expectInvalid("abc.d*f.ghi", "the token is not a signed JWT");
    const duplicateIss = `{"iss":"https://evil.example.com","iss":"${jwks.url}","aud":"${AUDIENCE}","exp":${Math.floor(now()) + 60}}`;
    const error = await expectInvalid(signRawRs256(rsaKey, { alg: "RS256", kid: "rsa-1" }, duplicateIss), "the token payload is not valid JSON");
    expect(error.detail).to.equal('token payload: duplicate member name "iss"');
    await expectInvalid(`${"a".repeat(10000)}.${"b".repeat(7000)}.c`, "the token is too large");
  });

  it("refuses segments that are not canonical base64url: non-zero padding bits or a length of 4n+1", async () => {
    const token = await signAccessToken(rsaKey, { issuer: jwks.url, audience: AUDIENCE, claims: { realm_access: { roles: ["a"] } } });
    await verifyAccessToken(token, policy, registry, now());
    const [header, payload, signature] = token.split(".");
    // A 256-byte RSA signature is 342 characters: its last one carries 4 unused bits.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(signature[signature.length - 1]);
    for (let unused = 1; unused < 16; unused++) {
      const variant = `${header}.${payload}.${signature.slice(0, -1)}${alphabet[last | unused]}`;
      if (variant !== token) await expectInvalid(variant, "the token is not canonically base64url-encoded");
    }
    const lengthen = (part: string) => part + "A".repeat((5 - (part.length % 4)) % 4);
    await expectInvalid(`${header}.${payload}.${lengthen(signature)}`, "the token is not canonically base64url-encoded");
    await expectInvalid(`${lengthen(header)}.${payload}.${signature}`, "the token is not canonically base64url-encoded");
  });

  it("refuses an unknown kid after one refetch, and accepts a key added by rotation", async () => {
    await verifyAccessToken(await signAccessToken(rsaKey, { issuer: jwks.url, audience: AUDIENCE }), policy, registry, now());
    const rotated = await createSigningKey("RS256", "rsa-2");
    const token = await signAccessToken(rotated, { issuer: jwks.url, audience: AUDIENCE });
    await expectInvalid(token, "no signing key of the authorization server matches the token");
    expect(jwks.requestCount, "no refetch within the cooldown").to.equal(1);
    registryClockMs += policy.jwksRefetchCooldownMs;
    await expectInvalid(token, "no signing key of the authorization server matches the token");
    expect(jwks.requestCount).to.equal(2);
    jwks.keys = [rsaKey.publicJwk, rotated.publicJwk];
    registryClockMs += policy.jwksRefetchCooldownMs;
    expect((await verifyAccessToken(token, policy, registry, now())).issuer).to.equal(jwks.url);
    expect(jwks.requestCount).to.equal(3);
  });

  it("answers KeysUnavailable (not InvalidToken) when the key set cannot be fetched", async () => {
    jwks.fault = { kind: "status", status: 500 };
    try {
      const token = await signAccessToken(rsaKey, { issuer: jwks.url, audience: AUDIENCE });
      const error = await expectRejection(verifyAccessToken(token, policy, registry, now()), KeysUnavailable);
      expect(error.detail).to.equal(`JWKS ${jwks.jwksUri} answered HTTP 500`);
    } finally {
      jwks.fault = undefined;
    }
  });

  describe("keycloak_compat", () => {
    let keycloak: VerificationPolicy;

    before(() => {
      keycloak = compileGatePolicy({ authorization_servers: [{ url: jwks.url, audience: AUDIENCE }], keycloak_compat: true }).verification;
    });

    function keycloakToken(claims: Record<string, unknown>, audience: string | string[] = [AUDIENCE, "account"]): Promise<string> {
      return signAccessToken(rsaKey, { issuer: jwks.url, audience, claims: { typ: "Bearer", scope: "openid mcp:tools", ...claims } });
    }

    async function expectKeycloakRefusal(token: string, description: string, detail: string): Promise<void> {
      expect((await expectInvalid(token, description, keycloak)).detail).to.equal(detail);
    }

    it("adds realm roles to the scopes of acl_claim, each once", async () => {
      const token = await keycloakToken({ realm_access: { roles: ["mcp:resources", "mcp:tools", "offline_access"] } });
      expect((await verifyAccessToken(token, keycloak, registry, now())).scopes).to.deep.equal(["openid", "mcp:tools", "mcp:resources", "offline_access"]);
      expect((await verifyAccessToken(await keycloakToken({}), keycloak, registry, now())).scopes).to.deep.equal(["openid", "mcp:tools"]);
    });

    it("adds no roles without the preset", async () => {
      const plain = compileGatePolicy({ authorization_servers: [{ url: jwks.url, audience: AUDIENCE }] }).verification;
      const token = await keycloakToken({ typ: "ID", realm_access: { roles: ["mcp:resources"] } });
      expect((await verifyAccessToken(token, plain, registry, now())).scopes).to.deep.equal(["openid", "mcp:tools"]);
    });

    it("refuses ID, refresh and other tokens by their payload typ (case-sensitive)", async () => {
      for (const typ of ["ID", "Refresh", "bearer", "Logout"]) {
        await expectKeycloakRefusal(await keycloakToken({ typ }), "the token is not a Keycloak access token", `Keycloak token typ "${typ}", expected "Bearer"`);
      }
      await expectKeycloakRefusal(await keycloakToken({ typ: undefined }), "the token is not a Keycloak access token", 'Keycloak token typ undefined, expected "Bearer"');
    });

    it("refuses a token for Keycloak's account audience only, with a hint for the operator", async () => {
      const hint = "Keycloak token for the account audience only: add an Audience mapper to the client scope";
      for (const audience of ["account", ["account"], ["account", "account"]]) {
        await expectKeycloakRefusal(await keycloakToken({}, audience), "the token is not meant for this resource (audience)", hint);
      }
    });

    it("accepts a single audience given as a string", async () => {
      const verified = await verifyAccessToken(await keycloakToken({}, AUDIENCE), keycloak, registry, now());
      expect(verified.issuer).to.equal(jwks.url);
    });

    it("still checks the configured audience", async () => {
      await expectKeycloakRefusal(
        await keycloakToken({}, ["account", "https://other.example.com/mcp"]),
        "the token is not meant for this resource (audience)",
        `audience mismatch: expected "${AUDIENCE}", got ["account","https://other.example.com/mcp"]`,
      );
    });
  });

  describe("identity values (upstream_headers)", () => {
    const claimsPolicy = (claims: string[]) =>
      compileGatePolicy({
        authorization_servers: [{ url: jwks.url, audience: AUDIENCE }],
        upstream_headers: claims.map((claim, index) => ({ header: `X-Claim-${index}`, claim })),
      }).verification;

    async function identityValuesOf(claims: Record<string, unknown>, paths: string[]): Promise<readonly (string | undefined)[]> {
      const token = await signAccessToken(rsaKey, { issuer: jwks.url, audience: AUDIENCE, claims });
      return (await verifyAccessToken(token, claimsPolicy(paths), registry, now())).identityValues;
    }

    it("formats each claim in upstream_headers order: text as is, numbers and booleans as text, arrays joined, objects as JSON", async () => {
      const claims = {
        sub: "alice",
        azp: "vscode",
        realm_access: { roles: ["mcp:tools", "mcp:resources"] },
        level: 3,
        verified: true,
        address: { locality: "Oslo", country: "NO" },
        mixed: ["a", 1, { k: "v" }, null],
        nick: "Grüße	from Zoë",
        "tenant.id": "t-1",
      };
      const paths = ["sub", "azp", "realm_access.roles", "level", "verified", "address", "address.locality", "mixed", "nick", "tenant.id"];
      expect(await identityValuesOf(claims, paths)).to.deep.equal([
        "alice",
        "vscode",
        "mcp:tools, mcp:resources",
        "3",
        "true",
        '{"locality":"Oslo","country":"NO"}',
        "Oslo",
        'a, 1, {"k":"v"}, null',
        "Grüße	from Zoë",
        "t-1",
      ]);
    });

    it("gives undefined (the header is cleared) for absent, null and empty claims", async () => {
      expect(await identityValuesOf({ email: null, empty: "", none: [] }, ["email", "missing", "realm_access.roles", "empty", "none"])).to.deep.equal([
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
    });

    it("refuses a claim whose header value would hold control characters (RFC 9110 §5.5)", async () => {
      for (const value of ["alice\r\nX-Admin: true", "a\u0000b", "a\u007fb", ["ok", "x\ny"]]) {
        const token = await signAccessToken(rsaKey, { issuer: jwks.url, audience: AUDIENCE, claims: { nick: value } });
        const refusal = await expectInvalid(token, "a token claim cannot be passed to the upstream", claimsPolicy(["sub", "nick"]));
        expect(refusal.detail).to.equal("claim nick holds control characters");
      }
    });

    it("passes an object claim with a line break in JSON, where it is escaped", async () => {
      expect(await identityValuesOf({ address: { street: "a\nb" } }, ["address"])).to.deep.equal(['{"street":"a\\nb"}']);
    });
  });

  it("isExpired allows exactly the clock skew", () => {
    expect(isExpired(1000, 30, 1029.9)).to.equal(false);
    expect(isExpired(1000, 30, 1030)).to.equal(true);
  });

  it("readClaim follows dot paths and prefers a claim literally named with dots", () => {
    expect(readClaim({ realm_access: { roles: ["a"] } }, ["realm_access", "roles"])).to.deep.equal(["a"]);
    expect(readClaim({ "realm_access.roles": ["literal"], realm_access: { roles: ["a"] } }, ["realm_access", "roles"])).to.deep.equal(["literal"]);
    expect(readClaim({ realm_access: ["x"] }, ["realm_access", "roles"])).to.equal(undefined);
  });
});
