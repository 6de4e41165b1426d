import { expect } from "chai";
import type { HeaderList, Outcome } from "../../../kong/driver";
import {
  formatJsonRpc,
  jsonAnswerHeaders,
  listPdkMethods,
  MCP_METADATA_URL,
  MCP_RESOURCE,
  postToMcp,
  readAnswer,
  routeThroughGate,
  sendThroughGate,
  startGateFixture,
  type GateFixture,
} from "../../support/gate-requests";
import { JwksServer } from "../../support/jwks-server";
import { PLUGIN_SERVER_IMPLEMENTATIONS } from "../../support/plugin-server-fixture";
import { createSigningKey, createTokenIssuer, encodeSegment, type TestSigningKey } from "../../support/token-factory";

const SCOPES = ["mcp:tools", "mcp:resources"];
const ASK_FOR_A_TOKEN = `Bearer scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`;
const NO_TOKEN_BODY = { error: "unauthorized", error_description: "no bearer token in the request" };
const TOOLS_LIST = formatJsonRpc("tools/list");

/** RFC 6750 §3.1 invalid_token: the challenge names the error, its description, and how to get a new token. */
function invalidTokenAnswer(description: string) {
  const body = { error: "invalid_token", error_description: description };
  const challenge = `Bearer error="invalid_token", error_description="${description}", scope="mcp:tools mcp:resources", resource_metadata="${MCP_METADATA_URL}"`;
  return { status: 401, headers: jsonAnswerHeaders(body, { "www-authenticate": challenge }), body };
}

function invalidRequestAnswer(description: string) {
  const body = { error: "invalid_request", error_description: description };
  const challenge = `Bearer error="invalid_request", error_description="${description}", resource_metadata="${MCP_METADATA_URL}"`;
  return { status: 400, headers: jsonAnswerHeaders(body, { "www-authenticate": challenge }), body };
}

/**
 * The authorization server's RS256 key (Keycloak's algorithm) and an impostor's under the same
 * kid: made once for both plugin servers, as RSA key generation is slow.
 */
let rsaKeys: Promise<[published: TestSigningKey, impostor: TestSigningKey]> | undefined;
function createRsaKeys(): Promise<[TestSigningKey, TestSigningKey]> {
  rsaKeys ??= Promise.all([createSigningKey("RS256", "realm-key"), createSigningKey("RS256", "realm-key")]);
  return rsaKeys;
}

for (const implementation of PLUGIN_SERVER_IMPLEMENTATIONS) {
  describe(`mcp-oauth2 bearer challenges, RFC 6750 (${implementation} plugin server)`, () => {
    let fixture: GateFixture;
    let key: TestSigningKey;
    let impostor: TestSigningKey;
    let baseConfig: Record<string, unknown>;

    before(async () => {
      [key, impostor] = await createRsaKeys();
      fixture = await startGateFixture(implementation, { key, tokens: { audience: [MCP_RESOURCE, "account"], claims: { scope: "mcp:tools" } } });
      baseConfig = { ...fixture.baseConfig, scopes_supported: SCOPES };
    });
    beforeEach(() => routeThroughGate(fixture.driver, baseConfig));
    after(() => fixture?.close());

    function send(headers: HeaderList, path = "/mcp"): Promise<Outcome> {
      return sendThroughGate(fixture.driver, { ...postToMcp(undefined, TOOLS_LIST, headers), path });
    }

    describe("401 without credentials: a challenge with no error code (RFC 6750 §3.1)", () => {
      it("answers a request without a token with the metadata URL and the scopes to ask for, in 3 round trips", async () => {
        const outcome = await send([]);
        expect(readAnswer(outcome)).to.deep.equal({ status: 401, headers: jsonAnswerHeaders(NO_TOKEN_BODY, { "www-authenticate": ASK_FOR_A_TOKEN }), body: NO_TOKEN_BODY });
        expect(listPdkMethods(outcome)).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.response.exit"]);
        expect(outcome.logs).to.deep.equal([]);
      });

      it("answers credentials of other schemes the same way", async () => {
        for (const credential of ["Basic dXNlcjpwYXNz", "DPoP eyJhbGciOiJFUzI1NiJ9.e30.c2ln", "Bearertoken"]) {
          expect(readAnswer(await send([["Authorization", credential]])).headers["www-authenticate"], credential).to.equal(ASK_FOR_A_TOKEN);
        }
      });

      it("ignores a valid token in the query string (RFC 6750 §2.3 is not offered)", async () => {
        const token = await fixture.issueToken();
        const answer = readAnswer(await send([], `/mcp?access_token=${token}`));
        expect(answer).to.deep.include({ status: 401, body: NO_TOKEN_BODY });
        expect(answer.headers["www-authenticate"]).to.equal(ASK_FOR_A_TOKEN);
      });

      it("asks for the narrowest scope of the call with the ACL on, reading the body: 4 round trips", async () => {
        routeThroughGate(fixture.driver, {
          ...baseConfig,
          enable_acl: true,
          scope_method_mapping: [
            { scope: "mcp:tools", methods: ["initialize", "tools/*"] },
            { scope: "mcp:resources", methods: ["resources/*"] },
          ],
        });
        const outcome = await sendThroughGate(fixture.driver, postToMcp(undefined, formatJsonRpc("resources/read", { uri: "docs://readme" })));
        expect(readAnswer(outcome).headers["www-authenticate"]).to.equal(`Bearer scope="mcp:resources", resource_metadata="${MCP_METADATA_URL}"`);
        expect(listPdkMethods(outcome)).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.request.get_raw_body", "kong.response.exit"]);
      });

      it("builds the metadata URL from Kong's forwarded origin when no resource is configured", async () => {
        routeThroughGate(fixture.driver, { ...baseConfig, resource: undefined });
        const outcome = await sendThroughGate(fixture.driver, { ...postToMcp(undefined, TOOLS_LIST), headers: [["Host", "gateway.test"]] });
        expect(readAnswer(outcome).headers["www-authenticate"]).to.equal(
          'Bearer scope="mcp:tools mcp:resources", resource_metadata="http://gateway.test:8000/.well-known/oauth-protected-resource/mcp"',
        );
        expect(listPdkMethods(outcome)).to.deep.equal([
          "kong.request.get_path",
          "kong.request.get_headers",
          "kong.request.get_forwarded_scheme",
          "kong.request.get_forwarded_host",
          "kong.request.get_forwarded_port",
          "kong.response.exit",
        ]);
      });
    });

    describe("400 invalid_request: credentials that cannot be read as one bearer token", () => {
      it("refuses the token header sent twice, even with two valid tokens", async () => {
        const outcome = await send([
          ["Authorization", `Bearer ${await fixture.issueToken()}`],
          ["Authorization", `Bearer ${await fixture.issueToken()}`],
        ]);
        expect(readAnswer(outcome)).to.deep.equal(invalidRequestAnswer("the token header must be sent once"));
      });

      it("refuses a Bearer credential that is not 'Bearer <b64token>'", async () => {
        for (const credential of ["Bearer", "Bearer ", "Bearer two tokens", "Bearer tok\"en", "Bearer ,abc"]) {
          expect(readAnswer(await send([["Authorization", credential]])), credential).to.deep.equal(
            invalidRequestAnswer("the Bearer credential must be 'Bearer <token>'"),
          );
        }
      });
    });

    describe("401 invalid_token: the token cannot be trusted for this resource", () => {
      it("refuses a signature made with another key under the published kid, and logs why without the token", async () => {
        const token = await createTokenIssuer(impostor, { issuer: fixture.jwks.url, audience: MCP_RESOURCE })();
        const outcome = await send([["Authorization", `Bearer ${token}`]]);
        expect(readAnswer(outcome)).to.deep.equal(invalidTokenAnswer("the token signature is invalid"));
        expect(listPdkMethods(outcome)).to.deep.equal(["kong.request.get_path", "kong.request.get_headers", "kong.log.warn", "kong.response.exit"]);
        expect(outcome.logs).to.deep.equal([
          {
            level: "warn",
            source: "plugin",
            message: `mcp-oauth2: 401 on /mcp: signature check failed with 1 key(s) of ${fixture.jwks.jwksUri} for kid "${key.kid}"`,
          },
        ]);
      });

      it("refuses an expired token", async () => {
        const token = await fixture.issueToken({ expiresIn: -120 });
        expect(readAnswer(await send([["Authorization", `Bearer ${token}`]]))).to.deep.equal(invalidTokenAnswer("the token has expired"));
      });

      it("refuses a token for another audience", async () => {
        const token = await fixture.issueToken({ audience: "https://other.example.com/mcp" });
        const outcome = await send([["Authorization", `Bearer ${token}`]]);
        expect(readAnswer(outcome)).to.deep.equal(invalidTokenAnswer("the token is not meant for this resource (audience)"));
        expect(outcome.logs[0]?.message).to.equal(
          `mcp-oauth2: 401 on /mcp: audience mismatch: expected "${MCP_RESOURCE}", got "https://other.example.com/mcp"`,
        );
      });

      it("refuses Keycloak's default token, whose only audience is account, with and without keycloak_compat", async () => {
        const token = await fixture.issueToken({ audience: "account", claims: { typ: "Bearer" } });
        for (const keycloakCompat of [false, true]) {
          routeThroughGate(fixture.driver, { ...baseConfig, keycloak_compat: keycloakCompat });
          const answer = readAnswer(await send([["Authorization", `Bearer ${token}`]]));
          expect(answer, `keycloak_compat ${keycloakCompat}`).to.deep.equal(invalidTokenAnswer("the token is not meant for this resource (audience)"));
        }
      });

      it("refuses an unknown issuer without fetching any key set, not even the one it names", async () => {
        const strangerKey = await createSigningKey("ES256");
        const stranger = await JwksServer.start([strangerKey.publicJwk]);
        try {
          const fetchesBefore = fixture.jwks.requestCount;
          const token = await createTokenIssuer(strangerKey, { issuer: stranger.url, audience: MCP_RESOURCE, header: { jku: stranger.jwksUri } })();
          const outcome = await send([["Authorization", `Bearer ${token}`]]);
          expect(readAnswer(outcome)).to.deep.equal(invalidTokenAnswer("the token was not issued by an accepted authorization server"));
          expect([stranger.requestCount, fixture.jwks.requestCount - fetchesBefore]).to.deep.equal([0, 0]);
        } finally {
          await stranger.close();
        }
      });

      it("refuses unsigned and HMAC tokens, and text that is not a JWT", async () => {
        const payload = encodeSegment({ iss: fixture.jwks.url, aud: MCP_RESOURCE, exp: Math.floor(Date.now() / 1000) + 600 });
        const cases: Array<[string, string]> = [
          [`${encodeSegment({ alg: "none" })}.${payload}.`, "the token is not a signed JWT"],
          [`${encodeSegment({ alg: "none" })}.${payload}.c2ln`, "the token's signing algorithm is not accepted"],
          [`${encodeSegment({ alg: "HS256", kid: key.kid })}.${payload}.c2ln`, "the token's signing algorithm is not accepted"],
          ["not-a-jwt", "the token is not a signed JWT"],
        ];
        for (const [token, description] of cases) {
          expect(readAnswer(await send([["Authorization", `Bearer ${token}`]])), token).to.deep.equal(invalidTokenAnswer(description));
        }
      });

      it("accepts the scheme name in any case (RFC 9110 §11.1) once the token is valid", async () => {
        const outcome = await send([["Authorization", `bEARER ${await fixture.issueToken()}`]]);
        expect(outcome.kind).to.equal("proceed");
      });
    });
  });
}
