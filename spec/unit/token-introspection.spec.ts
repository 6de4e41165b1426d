import { expect } from "chai";
import { compileGatePolicy, type GatePolicy } from "../../plugins/mcp-oauth2/core/gate-config";
import { JwksRegistry } from "../../plugins/mcp-oauth2/core/jwks-registry";
import type { FormPost, HttpAnswer } from "../../plugins/mcp-oauth2/core/outbound-http";
import { IntrospectionUnavailable, InvalidToken } from "../../plugins/mcp-oauth2/core/refusals";
import { hashToken } from "../../plugins/mcp-oauth2/core/token-cache";
import {
  INTROSPECTION_RETRY_AFTER_SECONDS,
  MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT,
  MAX_REMEMBERED_REFUSALS,
  MAX_REVOCATION_CHECKS_PER_ENDPOINT,
  TokenIntrospector,
  verifyOrIntrospect,
} from "../../plugins/mcp-oauth2/core/token-introspection";
import { expectRejection } from "../support/error-assertions";
import { IntrospectionServer } from "../support/introspection-server";
import { JwksServer } from "../support/jwks-server";
import { createSigningKey, signAccessToken, type TestSigningKey } from "../support/token-factory";

const AUDIENCE = "https://mcp.example.com/mcp";
const ISSUER = "https://as.example.com/realms/mcp";
const ENDPOINT = `${ISSUER}/protocol/openid-connect/token/introspect`;
const SECRET = "s3cr&t é:+";
const TOKEN = "2YotnFZFEjr1zCsicMWpAA";

/** An authorization server entry introspecting with `introspection` (default opaque). */
function introspectingServer(url: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    url,
    audience: AUDIENCE,
    introspection: "opaque",
    introspection_endpoint: "/protocol/openid-connect/token/introspect",
    client_id: "mcp:gateway",
    client_secret: SECRET,
    ...overrides,
  };
}

function policyWith(servers: Record<string, unknown>[], overrides: Record<string, unknown> = {}): GatePolicy {
  return compileGatePolicy({ authorization_servers: servers, ...overrides });
}

/** An answer of `active: true` for ISSUER's token, with `claims` over the usual ones. */
function activeAnswer(claims: Record<string, unknown> = {}): HttpAnswer {
  const nowSeconds = Math.floor(Date.now() / 1000);
  return json(200, { active: true, iss: ISSUER, aud: AUDIENCE, exp: nowSeconds + 600, iat: nowSeconds, sub: "alice", client_id: "mcp-client", scope: "mcp:tools", token_type: "Bearer", ...claims });
}

function json(status: number, body: unknown): HttpAnswer {
  return { status, text: JSON.stringify(body) };
}

/** A PostIntrospection that records every request and answers with `reply`. */
function fakeEndpoint(reply: (request: FormPost) => HttpAnswer | Promise<HttpAnswer>) {
  const requests: FormPost[] = [];
  return {
    requests,
    post: async (request: FormPost) => {
      requests.push(request);
      return reply(request);
    },
  };
}

/** A fake endpoint whose answers wait until releaseAll() (calls stay in flight meanwhile), and come at once after it. */
function heldEndpoint(reply: (request: FormPost) => HttpAnswer) {
  let holding = true;
  const releases: Array<() => void> = [];
  const endpoint = fakeEndpoint((request) => (holding ? new Promise<HttpAnswer>((resolve) => releases.push(() => resolve(reply(request)))) : reply(request)));
  return {
    ...endpoint,
    releaseAll: () => {
      holding = false;
      for (const release of releases.splice(0)) release();
    },
  };
}

/** Lets pending promise callbacks run (the fake endpoint records a request asynchronously). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A JWT's verdict as local verification reaches it, before its revocation check. */
const verifiedJwt = { issuer: ISSUER, subject: "jwt-user", scopes: [], expiresAt: Math.floor(Date.now() / 1000) + 600, identityValues: [], consumerClaimValues: [] };

describe("token-introspection", () => {
  let clock: number;
  const now = () => clock;
  const nowSeconds = () => clock / 1000;

  beforeEach(() => {
    clock = Date.now();
  });

  describe("opaque tokens (RFC 7662)", () => {
    it("asks the one introspecting server with HTTP Basic and takes identity and grants from the active answer", async () => {
      const endpoint = fakeEndpoint(() => activeAnswer({ scope: "mcp:tools mcp:resources", preferred_username: "alice" }));
      const policy = policyWith([introspectingServer(ISSUER)], { upstream_headers: [{ header: "X-User", claim: "preferred_username" }] });
      const verified = await new TokenIntrospector(endpoint.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policy, nowSeconds());
      expect(verified).to.deep.equal({
        issuer: ISSUER,
        subject: "alice",
        clientId: "mcp-client",
        scopes: ["mcp:tools", "mcp:resources"],
        expiresAt: Math.floor(Date.now() / 1000) + 600,
        identityValues: ["alice"],
        consumerClaimValues: [],
      });
      expect(endpoint.requests).to.deep.equal([
        {
          url: ENDPOINT,
          form: `token=${TOKEN}&token_type_hint=access_token`,
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json",
            // RFC 6749 §2.3.1: id and secret form-encoded, then joined by ":" and base64-encoded.
            authorization: `Basic ${Buffer.from("mcp%3Agateway:s3cr%26t+%C3%A9%3A%2B").toString("base64")}`,
          },
          timeoutMs: 10_000,
        },
      ]);
    });

    it("sends the client's credentials in the form body with client_secret_post", async () => {
      const endpoint = fakeEndpoint(() => activeAnswer());
      const policy = policyWith([introspectingServer(ISSUER, { client_auth_method: "client_secret_post" })], { http_timeout: 1500 });
      await new TokenIntrospector(endpoint.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policy, nowSeconds());
      const [request] = endpoint.requests;
      expect(request?.headers).to.deep.equal({ "content-type": "application/x-www-form-urlencoded", accept: "application/json" });
      expect(Object.fromEntries(new URLSearchParams(request?.form))).to.deep.equal({ token: TOKEN, token_type_hint: "access_token", client_id: "mcp:gateway", client_secret: SECRET });
      expect(request?.timeoutMs).to.equal(1500);
    });

    it("refuses an inactive token and remembers the answer for introspection_negative_cache_ttl, per token", async () => {
      const endpoint = fakeEndpoint(() => json(200, { active: false }));
      const introspector = new TokenIntrospector(endpoint.post, now);
      const policy = policyWith([introspectingServer(ISSUER)], { introspection_negative_cache_ttl: 30 });
      const refused = await expectRejection(introspector.introspectOpaqueToken(TOKEN, hashToken(TOKEN), policy, nowSeconds()), InvalidToken);
      expect([refused.description, refused.detail]).to.deep.equal(["the token is not active (expired, revoked or unknown)", `introspection at ${ENDPOINT}: not active`]);
      clock += 29_999;
      const remembered = await expectRejection(introspector.introspectOpaqueToken(TOKEN, hashToken(TOKEN), policy, nowSeconds()), InvalidToken);
      expect([remembered.description, remembered.detail]).to.deep.equal([refused.description, `${refused.detail} (remembered)`]);
      expect(endpoint.requests).to.have.length(1);
      await expectRejection(introspector.introspectOpaqueToken("another-token", hashToken("another-token"), policy, nowSeconds()), InvalidToken);
      expect(endpoint.requests).to.have.length(2);
      clock += 1;
      await expectRejection(introspector.introspectOpaqueToken(TOKEN, hashToken(TOKEN), policy, nowSeconds()), InvalidToken);
      expect(endpoint.requests).to.have.length(3);
    });

    it(`with introspection_negative_cache_ttl 0, keeps inactive answers out of the ${MAX_REMEMBERED_REFUSALS} remembered refusals, so a flood of them cannot push out another token's`, async () => {
      const endpoint = fakeEndpoint((request) => (request.form.startsWith("token=failing&") ? json(502, {}) : json(200, { active: false })));
      const introspector = new TokenIntrospector(endpoint.post, now);
      const policy = policyWith([introspectingServer(ISSUER)], { introspection_negative_cache_ttl: 0 });
      const verify = (token: string) => introspector.introspectOpaqueToken(token, hashToken(token), policy, nowSeconds());
      await expectRejection(verify("failing"), IntrospectionUnavailable);
      for (let index = 0; index < MAX_REMEMBERED_REFUSALS; index++) await expectRejection(verify(`inactive-${index}`), InvalidToken);
      const remembered = await expectRejection(verify("failing"), IntrospectionUnavailable);
      expect(remembered.detail).to.equal(`introspection endpoint ${ENDPOINT} answered HTTP 502 (remembered)`);
      expect(endpoint.requests).to.have.length(1 + MAX_REMEMBERED_REFUSALS);
    });

    it("does not remember inactive answers with introspection_negative_cache_ttl 0, nor under other verification settings", async () => {
      const endpoint = fakeEndpoint(() => json(200, { active: false }));
      const introspector = new TokenIntrospector(endpoint.post, now);
      const uncached = policyWith([introspectingServer(ISSUER)], { introspection_negative_cache_ttl: 0 });
      for (let attempt = 0; attempt < 2; attempt++) await expectRejection(introspector.introspectOpaqueToken(TOKEN, hashToken(TOKEN), uncached, nowSeconds()), InvalidToken);
      expect(endpoint.requests).to.have.length(2);
      await expectRejection(introspector.introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith([introspectingServer(ISSUER)]), nowSeconds()), InvalidToken);
      await expectRejection(introspector.introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith([introspectingServer(ISSUER)], { clock_skew: 5 }), nowSeconds()), InvalidToken);
      expect(endpoint.requests).to.have.length(4);
    });

    it("checks the active answer's claims as a JWT's: exp, nbf, iat, aud, iss, token_type, the Keycloak preset", async () => {
      const nowWhole = Math.floor(clock / 1000);
      const cases: Array<[Record<string, unknown>, string, string, Record<string, unknown>?]> = [
        [{ exp: nowWhole - 31 }, "the token has expired", `exp ${nowWhole - 31} is before now ${nowWhole} (clock_skew 30)`],
        [{ exp: undefined }, "the token has no valid expiry (exp)", "exp undefined"],
        [{ nbf: nowWhole + 60 }, "the token is not valid yet (nbf)", `nbf ${nowWhole + 60}, now ${nowWhole}`],
        [{ aud: "https://other.example.com/mcp" }, "the token is not meant for this resource (audience)", `audience mismatch: expected "${AUDIENCE}", got "https://other.example.com/mcp"`],
        [{ aud: undefined }, "the token is not meant for this resource (audience)", `audience mismatch: expected "${AUDIENCE}", got undefined`],
        [{ iss: "https://evil.example.com" }, "the token was not issued by an accepted authorization server", `introspection at ${ENDPOINT}: iss "https://evil.example.com", expected "${ISSUER}"`],
        [{ token_type: "DPoP" }, "the token is not a bearer access token", `introspection at ${ENDPOINT}: token_type "DPoP"`],
        [{ typ: "Refresh" }, "the token is not a Keycloak access token", 'Keycloak token typ "Refresh", expected "Bearer"', { keycloak_compat: true }],
      ];
      for (const [claims, description, detail, settings] of cases) {
        const endpoint = fakeEndpoint(() => activeAnswer(claims));
        const refused = await expectRejection(new TokenIntrospector(endpoint.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith([introspectingServer(ISSUER)], settings), nowSeconds()), InvalidToken);
        expect([refused.description, refused.detail], JSON.stringify(claims)).to.deep.equal([description, detail]);
      }
    });

    it("accepts an answer without iss or token_type (both optional in RFC 7662 §2.2), an audience array and a lower-case bearer", async () => {
      for (const claims of [{ iss: undefined, token_type: undefined }, { aud: ["account", AUDIENCE] }, { token_type: "bearer" }]) {
        const endpoint = fakeEndpoint(() => activeAnswer(claims));
        const verified = await new TokenIntrospector(endpoint.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith([introspectingServer(ISSUER)]), nowSeconds());
        expect(verified.issuer, JSON.stringify(claims)).to.equal(ISSUER);
      }
    });

    it("answers 503 with Retry-After to every unusable answer, remembered per token for the Retry-After period", async () => {
      const timeout = Object.assign(new Error("The operation was aborted due to timeout"), { name: "TimeoutError" });
      const refused = Object.assign(new TypeError("fetch failed"), { cause: new Error("connect ECONNREFUSED 127.0.0.1:9") });
      const cases: Array<[() => HttpAnswer, string]> = [
        [() => json(500, { error: "server_error" }), "answered HTTP 500 (server_error)"],
        [() => json(401, { error: "invalid_client", error_description: "bad secret" }), "answered HTTP 401 (invalid_client)"],
        [() => json(400, { error: SECRET }), "answered HTTP 400"],
        [() => ({ status: 302, text: "" }), "answered HTTP 302"],
        [() => ({ status: 200, text: "<html>login</html>" }), "answered with something that is not JSON"],
        [() => ({ status: 200, text: '{"active":false,"active":true}' }), "answered JSON with a repeated member name"],
        [() => json(200, [{ active: true }]), "answered without a boolean 'active' member (RFC 7662 §2.2)"],
        [() => json(200, { active: "true", aud: AUDIENCE }), "answered without a boolean 'active' member (RFC 7662 §2.2)"],
        [() => json(200, { aud: AUDIENCE }), "answered without a boolean 'active' member (RFC 7662 §2.2)"],
        [
          () => {
            throw timeout;
          },
          "timed out after 10000 ms",
        ],
        [
          () => {
            throw refused;
          },
          "fetch failed: connect ECONNREFUSED 127.0.0.1:9",
        ],
      ];
      for (const [reply, problem] of cases) {
        const endpoint = fakeEndpoint(reply);
        const introspector = new TokenIntrospector(endpoint.post, now);
        const policy = policyWith([introspectingServer(ISSUER)]);
        const unavailable = await expectRejection(introspector.introspectOpaqueToken(TOKEN, hashToken(TOKEN), policy, nowSeconds()), IntrospectionUnavailable);
        expect([unavailable.status, unavailable.description, unavailable.detail, unavailable.retryAfterSeconds], problem).to.deep.equal([
          503,
          "the authorization server cannot check the token right now",
          `introspection endpoint ${ENDPOINT} ${problem}`,
          INTROSPECTION_RETRY_AFTER_SECONDS,
        ]);
        clock += 3_500;
        const remembered = await expectRejection(introspector.introspectOpaqueToken(TOKEN, hashToken(TOKEN), policy, nowSeconds()), IntrospectionUnavailable);
        expect(remembered.retryAfterSeconds, problem).to.equal(2);
        clock += 1_500;
        await expectRejection(introspector.introspectOpaqueToken(TOKEN, hashToken(TOKEN), policy, nowSeconds()), IntrospectionUnavailable);
        expect(endpoint.requests, problem).to.have.length(2);
      }
    });

    it("never quotes an answer that could echo the token or the client secret, only a known error code", async () => {
      const echoes = [json(400, { error: SECRET, token: TOKEN }), json(401, { error: TOKEN }), { status: 200, text: `{"${TOKEN}":1,"${TOKEN}":2}` }, { status: 200, text: `${TOKEN} ${SECRET}` }];
      for (const echo of echoes) {
        const endpoint = fakeEndpoint(() => echo);
        const error = await new TokenIntrospector(endpoint.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith([introspectingServer(ISSUER)]), nowSeconds()).catch((caught: unknown) => caught);
        expect(error).to.be.instanceOf(Error);
        const { description, detail } = error as InvalidToken;
        for (const text of [description, detail]) expect(text).not.to.contain(SECRET).and.not.to.contain(TOKEN);
      }
    });

    it("asks once for any number of concurrent requests with one token", async () => {
      let release = () => {};
      const endpoint = fakeEndpoint(() => new Promise<HttpAnswer>((resolve) => (release = () => resolve(activeAnswer()))));
      const introspector = new TokenIntrospector(endpoint.post, now);
      const policy = policyWith([introspectingServer(ISSUER)]);
      const verdicts = Array.from({ length: 200 }, () => introspector.introspectOpaqueToken(TOKEN, hashToken(TOKEN), policy, nowSeconds()));
      await new Promise((resolve) => setImmediate(resolve));
      release();
      expect(new Set((await Promise.all(verdicts)).map((verified) => verified.subject))).to.deep.equal(new Set(["alice"]));
      expect(endpoint.requests).to.have.length(1);
    });

    it(`introspects at most ${MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT} opaque tokens at once per endpoint: more get 503 without a call, not remembered`, async () => {
      const endpoint = heldEndpoint(() => activeAnswer());
      const introspector = new TokenIntrospector(endpoint.post, now);
      const policy = policyWith([introspectingServer(ISSUER)]);
      const verify = (token: string) => introspector.introspectOpaqueToken(token, hashToken(token), policy, nowSeconds());
      const pending = Array.from({ length: MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT }, (_, index) => verify(`token-${index}`));
      const busy = await expectRejection(verify("one-too-many"), IntrospectionUnavailable);
      expect([busy.detail, busy.retryAfterSeconds]).to.deep.equal([`introspection endpoint ${ENDPOINT} not asked: ${MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT} opaque-token introspections are in flight there already`, 1]);
      expect(endpoint.requests).to.have.length(MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT);
      endpoint.releaseAll();
      await Promise.all(pending);
      // Being busy is not the token's fault: it is not remembered.
      expect((await verify("one-too-many")).subject).to.equal("alice");
    });
  });

  describe("call budgets under floods", () => {
    const OTHER = "https://other.example.com";

    it("keeps the revocation checks of verified JWTs out of reach of opaque tokens holding the endpoint's opaque budget, with a budget of their own", async () => {
      const endpoint = heldEndpoint(() => activeAnswer());
      const introspector = new TokenIntrospector(endpoint.post, now);
      const policy = policyWith([introspectingServer(ISSUER, { introspection: "always" })]);
      const server = policy.verification.opaqueTokenServers[0]!;
      const flood = Array.from({ length: MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT + 10 }, (_, index) => introspector.introspectOpaqueToken(`flood-${index}`, hashToken(`flood-${index}`), policy, nowSeconds()).catch((error: unknown) => error));
      const confirm = (jwt: string) => introspector.confirmActive(jwt, hashToken(jwt), verifiedJwt, server, server.introspection, policy);
      const checks = Array.from({ length: MAX_REVOCATION_CHECKS_PER_ENDPOINT }, (_, index) => confirm(`jwt-${index}`));
      const busy = await expectRejection(confirm("one-too-many"), IntrospectionUnavailable);
      expect(busy.detail).to.equal(`introspection endpoint ${ENDPOINT} not asked: ${MAX_REVOCATION_CHECKS_PER_ENDPOINT} revocation checks are in flight there already`);
      expect(endpoint.requests).to.have.length(MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT + MAX_REVOCATION_CHECKS_PER_ENDPOINT);
      endpoint.releaseAll();
      expect(new Set((await Promise.all(checks)).map((verified) => verified.subject))).to.deep.equal(new Set(["jwt-user"]));
      expect((await Promise.all(flood)).filter((outcome) => outcome instanceof IntrospectionUnavailable)).to.have.length(10);
    });

    it("frees one call slot per answer, however many calls are still in flight", async () => {
      const answers: Array<() => void> = [];
      const endpoint = fakeEndpoint(() => new Promise<HttpAnswer>((resolve) => answers.push(() => resolve(activeAnswer()))));
      const introspector = new TokenIntrospector(endpoint.post, now);
      const policy = policyWith([introspectingServer(ISSUER)]);
      const verify = (token: string) => introspector.introspectOpaqueToken(token, hashToken(token), policy, nowSeconds());
      const pending = Array.from({ length: MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT }, (_, index) => verify(`token-${index}`));
      await settle();
      answers[0]!();
      expect((await pending[0]!).subject).to.equal("alice");
      const next = verify("next");
      const oneTooMany = verify("one-too-many").catch((error: unknown) => error);
      await settle();
      expect(endpoint.requests).to.have.length(MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT + 1);
      for (const answer of answers.splice(0)) answer();
      await Promise.all([...pending, next]);
      expect(await oneTooMany).to.be.instanceOf(IntrospectionUnavailable);
    });

    it("answers a token that one server was too busy to take and another refused with 503 Retry-After 1, not remembered", async () => {
      // The first server holds its answers until the flood is let go; the second refuses at once.
      const first = heldEndpoint(() => activeAnswer());
      const post = (request: FormPost) => (request.url === ENDPOINT ? first.post(request) : Promise.resolve(json(200, { active: false })));
      const introspector = new TokenIntrospector(post, now);
      const policy = policyWith([introspectingServer(ISSUER), introspectingServer(OTHER, { introspection_endpoint: `${OTHER}/introspect` })]);
      const verify = (token: string) => introspector.introspectOpaqueToken(token, hashToken(token), policy, nowSeconds());
      const flood = Array.from({ length: MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT }, (_, index) => verify(`flood-${index}`));
      const busy = await expectRejection(verify(TOKEN), IntrospectionUnavailable);
      expect([busy.status, busy.retryAfterSeconds, busy.detail]).to.deep.equal([
        503,
        1,
        `introspection endpoint ${ENDPOINT} not asked: ${MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT} opaque-token introspections are in flight there already; introspection at ${OTHER}/introspect: not active`,
      ]);
      await settle();
      first.releaseAll();
      await Promise.all(flood);
      expect((await verify(TOKEN)).issuer).to.equal(ISSUER);
    });

    it("passes over a server whose opaque budget is spent, so that another server still vouches for its tokens", async () => {
      const endpoint = heldEndpoint((request) => (request.url === ENDPOINT ? json(200, { active: false }) : activeAnswer({ iss: OTHER })));
      const introspector = new TokenIntrospector(endpoint.post, now);
      const policy = policyWith([introspectingServer(ISSUER), introspectingServer(OTHER, { introspection_endpoint: `${OTHER}/introspect` })]);
      const verify = (token: string) => introspector.introspectOpaqueToken(token, hashToken(token), policy, nowSeconds());
      const flood = Array.from({ length: MAX_OPAQUE_INTROSPECTIONS_PER_ENDPOINT }, (_, index) => verify(`flood-${index}`).catch((error: unknown) => error));
      const asked = endpoint.requests.length;
      const rescued = verify(TOKEN);
      await settle();
      expect(endpoint.requests.slice(asked).map((request) => request.url)).to.deep.equal([`${OTHER}/introspect`]);
      endpoint.releaseAll();
      expect((await rescued).issuer).to.equal(OTHER);
      await Promise.all(flood);
    });
  });

  describe("several authorization servers", () => {
    const OTHER = "https://other.example.com";
    const servers = () => [introspectingServer(ISSUER), { url: "https://jwt-only.example.com", audience: AUDIENCE }, introspectingServer(OTHER, { introspection_endpoint: `${OTHER}/introspect` })];

    /** A fake whose answer depends on the endpoint asked. */
    function endpointsAnswering(byUrl: Record<string, () => HttpAnswer>) {
      return fakeEndpoint((request) => {
        const answer = byUrl[request.url];
        if (answer === undefined) throw new Error(`unexpected request to ${request.url}`);
        return answer();
      });
    }

    it("offers an opaque token to the introspecting servers in order until one vouches, never to the others", async () => {
      const endpoint = endpointsAnswering({ [ENDPOINT]: () => json(200, { active: false }), [`${OTHER}/introspect`]: () => activeAnswer({ iss: OTHER }) });
      const verified = await new TokenIntrospector(endpoint.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith(servers()), nowSeconds());
      expect(verified.issuer).to.equal(OTHER);
      expect(endpoint.requests.map((request) => request.url)).to.deep.equal([ENDPOINT, `${OTHER}/introspect`]);
    });

    it("stops at the first server that vouches, and passes over an active answer for another audience or issuer", async () => {
      const first = endpointsAnswering({ [ENDPOINT]: () => activeAnswer(), [`${OTHER}/introspect`]: () => activeAnswer({ iss: OTHER }) });
      expect((await new TokenIntrospector(first.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith(servers()), nowSeconds())).issuer).to.equal(ISSUER);
      expect(first.requests).to.have.length(1);
      for (const claims of [{ aud: "https://elsewhere.example.com" }, { iss: OTHER }]) {
        const second = endpointsAnswering({ [ENDPOINT]: () => activeAnswer(claims), [`${OTHER}/introspect`]: () => activeAnswer({ iss: OTHER }) });
        expect((await new TokenIntrospector(second.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith(servers()), nowSeconds())).issuer).to.equal(OTHER);
      }
    });

    it("refuses with 401 when no server vouches, naming each server's answer in the log detail", async () => {
      const endpoint = endpointsAnswering({ [ENDPOINT]: () => json(200, { active: false }), [`${OTHER}/introspect`]: () => activeAnswer({ iss: OTHER, aud: "https://elsewhere.example.com" }) });
      const refused = await expectRejection(new TokenIntrospector(endpoint.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith(servers()), nowSeconds()), InvalidToken);
      expect([refused.description, refused.detail]).to.deep.equal([
        "the token is not active (expired, revoked or unknown)",
        `introspection at ${ENDPOINT}: not active; audience mismatch: expected "${AUDIENCE}", got "https://elsewhere.example.com"`,
      ]);
    });

    it("answers 503 when a server that might have vouched could not be asked, and accepts when another vouches", async () => {
      const failing = endpointsAnswering({ [ENDPOINT]: () => json(502, {}), [`${OTHER}/introspect`]: () => json(200, { active: false }) });
      const unavailable = await expectRejection(new TokenIntrospector(failing.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith(servers()), nowSeconds()), IntrospectionUnavailable);
      expect(unavailable.detail).to.equal(`introspection endpoint ${ENDPOINT} answered HTTP 502; introspection at ${OTHER}/introspect: not active`);
      const rescued = endpointsAnswering({ [ENDPOINT]: () => json(502, {}), [`${OTHER}/introspect`]: () => activeAnswer({ iss: OTHER }) });
      expect((await new TokenIntrospector(rescued.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith(servers()), nowSeconds())).issuer).to.equal(OTHER);
    });

    it("shares one http_timeout between the servers asked about one token", async () => {
      const endpoint = endpointsAnswering({
        [ENDPOINT]: () => {
          clock += 2_000;
          return json(200, { active: false });
        },
        [`${OTHER}/introspect`]: () => activeAnswer({ iss: OTHER }),
      });
      const enough = await new TokenIntrospector(endpoint.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith(servers(), { http_timeout: 2_500 }), nowSeconds());
      expect(enough.issuer).to.equal(OTHER);
      expect(endpoint.requests.map((request) => request.timeoutMs)).to.deep.equal([2_500, 500]);
      const spent = await expectRejection(
        new TokenIntrospector(endpoint.post, now).introspectOpaqueToken(TOKEN, hashToken(TOKEN), policyWith(servers(), { http_timeout: 2_000 }), nowSeconds()),
        IntrospectionUnavailable,
      );
      expect(spent.detail).to.equal(`introspection at ${ENDPOINT}: not active; introspection endpoint ${OTHER}/introspect not asked: http_timeout was spent on the servers before it`);
      expect(endpoint.requests).to.have.length(3);
    });
  });

  describe("verifyOrIntrospect: which tokens go where", () => {
    let key: TestSigningKey;
    let jwks: JwksServer;

    before(async () => {
      key = await createSigningKey("ES256", "introspection-spec");
      jwks = await JwksServer.start([key.publicJwk]);
    });

    after(() => jwks.close());

    function verifyWith(endpoint: ReturnType<typeof fakeEndpoint>, policy: GatePolicy, token: string) {
      return verifyOrIntrospect(token, hashToken(token), policy, { registry: new JwksRegistry(), introspector: new TokenIntrospector(endpoint.post, now) }, nowSeconds());
    }

    const jwksServer = (introspection: string) => introspectingServer(jwks.url, { introspection, introspection_endpoint: "/introspect" });

    it("introspects tokens without exactly two dots (Ory Hydra's ory_at_… have one), and never a three-part token, whatever its characters", async () => {
      const endpoint = fakeEndpoint(() => activeAnswer({ iss: jwks.url }));
      const policy = policyWith([jwksServer("always")]);
      for (const opaque of ["opaque-token", "ory_at_a1B2.c3D4", "a.b.c.d", "a.b.c.d.e", "abc+/=", "a~b.c.d.e="]) {
        expect((await verifyWith(endpoint, policy, opaque)).issuer, opaque).to.equal(jwks.url);
        expect(new URLSearchParams(endpoint.requests.at(-1)?.form).get("token"), opaque).to.equal(opaque);
      }
      const asked = endpoint.requests.length;
      const jwt = await signAccessToken(key, { issuer: jwks.url, audience: AUDIENCE });
      // Respellings of a real JWT would each be a token of their own to the cache and the endpoint.
      for (const threeParts of ["a.b.c", "..", "eyJhbGciOiJub25lIn0.e30.", "a.b.c=", "a~b.c.d", `${jwt}=`, `${jwt}==`, `${jwt.slice(0, -1)}+`, `${jwt} `]) {
        const refused = await expectRejection(verifyWith(endpoint, policy, threeParts), InvalidToken);
        if (threeParts.startsWith(jwt.slice(0, -1))) expect(refused.description, threeParts).to.equal("the token is not a signed JWT");
      }
      expect(endpoint.requests).to.have.length(asked);
      await verifyWith(endpoint, policyWith([jwksServer("opaque")]), jwt);
      expect(endpoint.requests).to.have.length(asked);
    });

    it("with introspection jwt, confirms a verified JWT at its server and refuses opaque tokens as not a JWT without sending them", async () => {
      const endpoint = fakeEndpoint(() => activeAnswer({ iss: jwks.url }));
      const policy = policyWith([jwksServer("jwt")]);
      for (const opaque of ["opaque-token", "ory_at_a1B2.c3D4"]) {
        expect((await expectRejection(verifyWith(endpoint, policy, opaque), InvalidToken)).description, opaque).to.equal("the token is not a signed JWT");
      }
      expect(endpoint.requests).to.deep.equal([]);
      const jwt = await signAccessToken(key, { issuer: jwks.url, audience: AUDIENCE });
      expect((await verifyWith(endpoint, policy, jwt)).subject).to.equal("user-1");
      expect(endpoint.requests.map((request) => new URLSearchParams(request.form).get("token"))).to.deep.equal([jwt]);
    });

    it("refuses an opaque token as not a JWT when no server introspects, and one over 16384 characters without asking", async () => {
      const endpoint = fakeEndpoint(() => activeAnswer());
      const none = await expectRejection(verifyWith(endpoint, policyWith([{ url: jwks.url, audience: AUDIENCE }]), "opaque-token"), InvalidToken);
      expect(none.description).to.equal("the token is not a signed JWT");
      const huge = await expectRejection(verifyWith(endpoint, policyWith([jwksServer("opaque")]), "x".repeat(16_385)), InvalidToken);
      expect(huge.description).to.equal("the token is too large");
      expect(endpoint.requests).to.deep.equal([]);
    });

    it("with introspection always, confirms a locally verified JWT at its server and refuses it once revoked", async () => {
      let active = true;
      const endpoint = fakeEndpoint(() => (active ? activeAnswer({ iss: jwks.url }) : json(200, { active: false })));
      const policy = policyWith([jwksServer("always")]);
      const jwt = await signAccessToken(key, { issuer: jwks.url, audience: AUDIENCE, claims: { scope: "mcp:tools" } });
      const verified = await verifyWith(endpoint, policy, jwt);
      expect([verified.subject, verified.scopes]).to.deep.equal(["user-1", ["mcp:tools"]]);
      expect(new URLSearchParams(endpoint.requests[0]?.form).get("token")).to.equal(jwt);
      active = false;
      const revoked = await expectRejection(verifyWith(endpoint, policy, jwt), InvalidToken);
      expect(revoked.description).to.equal("the token is not active (expired, revoked or unknown)");
    });

    it("never introspects a JWT that fails local verification, nor one of a server that introspects only opaque tokens", async () => {
      const endpoint = fakeEndpoint(() => activeAnswer({ iss: jwks.url }));
      const always = policyWith([jwksServer("always")]);
      await expectRejection(verifyWith(endpoint, always, await signAccessToken(key, { issuer: jwks.url, audience: "https://other.example.com" })), InvalidToken);
      await expectRejection(verifyWith(endpoint, always, await signAccessToken(key, { issuer: jwks.url, audience: AUDIENCE, expiresIn: -60 })), InvalidToken);
      await verifyWith(endpoint, policyWith([jwksServer("opaque")]), await signAccessToken(key, { issuer: jwks.url, audience: AUDIENCE }));
      expect(endpoint.requests).to.deep.equal([]);
    });
  });

  describe("the HTTP exchange with a real endpoint", () => {
    let endpoint: IntrospectionServer;
    let elsewhere: IntrospectionServer;

    before(async () => {
      [endpoint, elsewhere] = await Promise.all([IntrospectionServer.start("mcp:gateway", SECRET), IntrospectionServer.start("mcp:gateway", SECRET)]);
    });

    after(async () => {
      await endpoint.close();
      await elsewhere.close();
    });

    beforeEach(() => {
      endpoint.fault = undefined;
      endpoint.requestCount = 0;
    });

    const policyFor = (overrides: Record<string, unknown> = {}, settings: Record<string, unknown> = {}) =>
      policyWith([introspectingServer(endpoint.url, { introspection_endpoint: "/introspect", ...overrides })], settings);

    function introspect(token: string, policy: GatePolicy = policyFor()) {
      return new TokenIntrospector(undefined, now).introspectOpaqueToken(token, hashToken(token), policy, nowSeconds());
    }

    it("authenticates with client_secret_basic and client_secret_post as the endpoint decodes them", async () => {
      const token = endpoint.issue({ aud: AUDIENCE, sub: "bob" });
      expect((await introspect(token)).subject).to.equal("bob");
      expect(endpoint.lastRequest?.headers["content-type"]).to.equal("application/x-www-form-urlencoded");
      expect((await introspect(token, policyFor({ client_auth_method: "client_secret_post" }))).subject).to.equal("bob");
      const wrong = await expectRejection(introspect(token, policyFor({ client_secret: "wrong" })), IntrospectionUnavailable);
      expect(wrong.detail).to.equal(`introspection endpoint ${endpoint.endpoint} answered HTTP 401 (invalid_client)`);
    });

    it("does not follow a redirect, which would carry the token and credentials elsewhere", async () => {
      endpoint.fault = { kind: "redirect", location: elsewhere.endpoint };
      const redirected = await expectRejection(introspect(endpoint.issue({ aud: AUDIENCE })), IntrospectionUnavailable);
      expect(redirected.detail).to.equal(`introspection endpoint ${endpoint.endpoint} answered HTTP 307`);
      expect(elsewhere.requestCount).to.equal(0);
    });

    it("refuses an answer over 64 KiB and gives up after http_timeout", async () => {
      endpoint.fault = { kind: "body", body: JSON.stringify({ active: true, padding: "x".repeat(64 * 1024) }) };
      expect((await expectRejection(introspect("large"), IntrospectionUnavailable)).detail).to.equal(`introspection endpoint ${endpoint.endpoint} is larger than 65536 bytes`);
      endpoint.fault = { kind: "delay", ms: 10_000 };
      expect((await expectRejection(introspect("slow", policyFor({}, { http_timeout: 200 })), IntrospectionUnavailable)).detail).to.equal(
        `introspection endpoint ${endpoint.endpoint} timed out after 200 ms`,
      );
    });

    it("answers 503 when nothing listens at the endpoint", async () => {
      const closed = await IntrospectionServer.start();
      await closed.close();
      const policy = policyWith([introspectingServer(closed.url, { introspection_endpoint: "/introspect" })]);
      const unavailable = await expectRejection(introspect("token", policy), IntrospectionUnavailable);
      expect(unavailable.detail).to.match(new RegExp(`^introspection endpoint ${closed.endpoint} connect ECONNREFUSED`));
    });
  });
});
