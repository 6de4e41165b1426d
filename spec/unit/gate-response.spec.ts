import { expect } from "chai";
import { answerDocument, formatBearerChallenge, renderRefusal, toRefusal, type ChallengeContext } from "../../plugins/mcp-oauth2/core/gate-response";
import {
  BodyTooLarge,
  GateFailure,
  InsufficientScope,
  InvalidJsonRpc,
  InvalidRequest,
  InvalidToken,
  IntrospectionUnavailable,
  KeysUnavailable,
  MetadataMethodNotAllowed,
  MissingToken,
  type Refusal,
  UnsupportedMediaType,
} from "../../plugins/mcp-oauth2/core/refusals";

const PRM = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
const CONTEXT: ChallengeContext = { resourceMetadataUrl: PRM, scopes: ["mcp:tools", "mcp:resources"] };
const JSON_TYPE = { "Content-Type": "application/json" };

describe("gate-response", () => {
  describe("renderRefusal: challenges (RFC 6750 §3)", () => {
    it("401 without an error code for a missing token", () => {
      expect(renderRefusal(new MissingToken(), CONTEXT)).to.deep.equal({
        status: 401,
        headers: { ...JSON_TYPE, "WWW-Authenticate": `Bearer scope="mcp:tools mcp:resources", resource_metadata="${PRM}"` },
        body: '{"error":"unauthorized","error_description":"no bearer token in the request"}',
      });
    });

    it("a bare 'Bearer' challenge when there is nothing to say", () => {
      expect(renderRefusal(new MissingToken(), {}).headers["WWW-Authenticate"]).to.equal("Bearer");
      expect(renderRefusal(new MissingToken(), { scopes: [] }).headers["WWW-Authenticate"]).to.equal("Bearer");
    });

    it("400 invalid_request without a scope", () => {
      expect(renderRefusal(new InvalidRequest("the token header must be sent once", "token header sent 2 times"), CONTEXT)).to.deep.equal({
        status: 400,
        headers: { ...JSON_TYPE, "WWW-Authenticate": `Bearer error="invalid_request", error_description="the token header must be sent once", resource_metadata="${PRM}"` },
        body: '{"error":"invalid_request","error_description":"the token header must be sent once"}',
      });
    });

    it("401 invalid_token with the scopes to request", () => {
      expect(renderRefusal(new InvalidToken("the token has expired", "exp 1700000000 is past"), CONTEXT)).to.deep.equal({
        status: 401,
        headers: {
          ...JSON_TYPE,
          "WWW-Authenticate": `Bearer error="invalid_token", error_description="the token has expired", scope="mcp:tools mcp:resources", resource_metadata="${PRM}"`,
        },
        body: '{"error":"invalid_token","error_description":"the token has expired"}',
      });
    });

    it("403 insufficient_scope with the required scopes instead of the advertised ones", () => {
      const refusal = new InsufficientScope("the token's scopes do not allow tools/call rm", "holds [mcp:tools]", ["mcp:admin", "mcp:tools"]);
      expect(renderRefusal(refusal, CONTEXT)).to.deep.equal({
        status: 403,
        headers: {
          ...JSON_TYPE,
          "WWW-Authenticate": `Bearer error="insufficient_scope", error_description="the token's scopes do not allow tools/call rm", scope="mcp:admin mcp:tools", resource_metadata="${PRM}"`,
        },
        body: `{"error":"insufficient_scope","error_description":"the token's scopes do not allow tools/call rm","scope":"mcp:admin mcp:tools"}`,
      });
    });

    it("403 insufficient_scope without scope when no scope would help (never scope=\"\")", () => {
      const refusal = new InsufficientScope("no JSON-RPC method is allowed on this resource", "mapping empty", []);
      const { headers, body } = renderRefusal(refusal, CONTEXT);
      expect(headers["WWW-Authenticate"]).to.equal(
        `Bearer error="insufficient_scope", error_description="no JSON-RPC method is allowed on this resource", resource_metadata="${PRM}"`,
      );
      expect(body).to.equal('{"error":"insufficient_scope","error_description":"no JSON-RPC method is allowed on this resource"}');
    });
  });

  describe("renderRefusal: other refusals", () => {
    it("503 with Retry-After and no challenge when keys are unavailable", () => {
      expect(renderRefusal(new KeysUnavailable("JWKS http://127.0.0.1:1/jwks answered HTTP 500", 7), CONTEXT)).to.deep.equal({
        status: 503,
        headers: { ...JSON_TYPE, "Retry-After": "7" },
        body: `{"error":"temporarily_unavailable","error_description":"the authorization server's signing keys are temporarily unavailable"}`,
      });
    });

    it("503 with Retry-After and no challenge when the introspection endpoint cannot answer", () => {
      expect(renderRefusal(new IntrospectionUnavailable("introspection endpoint http://127.0.0.1:1/introspect timed out after 10000 ms", 5), CONTEXT)).to.deep.equal({
        status: 503,
        headers: { ...JSON_TYPE, "Retry-After": "5" },
        body: `{"error":"temporarily_unavailable","error_description":"the authorization server cannot check the token right now"}`,
      });
    });

    it("405 with Allow for metadata requests with another method", () => {
      expect(renderRefusal(new MetadataMethodNotAllowed(), CONTEXT)).to.deep.equal({
        status: 405,
        headers: { ...JSON_TYPE, Allow: "GET, HEAD" },
        body: '{"error":"method_not_allowed","error_description":"protected resource metadata supports only GET and HEAD"}',
      });
    });

    it("413, 415 and 500 with their codes", () => {
      expect(renderRefusal(new BodyTooLarge("the request body is larger than 10 bytes"), CONTEXT)).to.deep.equal({
        status: 413,
        headers: JSON_TYPE,
        body: '{"error":"request_too_large","error_description":"the request body is larger than 10 bytes"}',
      });
      expect(renderRefusal(new UnsupportedMediaType("JSON-RPC bodies must be sent as application/json"), CONTEXT)).to.deep.equal({
        status: 415,
        headers: JSON_TYPE,
        body: '{"error":"unsupported_media_type","error_description":"JSON-RPC bodies must be sent as application/json"}',
      });
      expect(renderRefusal(new GateFailure("the gateway's mcp-oauth2 configuration is invalid", "clock_skew: ..."), CONTEXT)).to.deep.equal({
        status: 500,
        headers: JSON_TYPE,
        body: `{"error":"server_error","error_description":"the gateway's mcp-oauth2 configuration is invalid"}`,
      });
    });

    it("a JSON-RPC error object for bodies the ACL cannot read (JSON-RPC 2.0 §5.1)", () => {
      expect(renderRefusal(new InvalidJsonRpc("the body is not valid UTF-8 JSON", -32700), CONTEXT)).to.deep.equal({
        status: 400,
        headers: JSON_TYPE,
        body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"the body is not valid UTF-8 JSON"}}',
      });
      expect(JSON.parse(renderRefusal(new InvalidJsonRpc("an empty JSON-RPC batch is invalid", -32600), {}).body)).to.deep.equal({
        jsonrpc: "2.0",
        id: null,
        error: { code: -32600, message: "an empty JSON-RPC batch is invalid" },
      });
    });

    it("always answers a non-empty JSON body that never carries the operator detail", () => {
      const refusals: Refusal[] = [
        new MissingToken(),
        new InvalidRequest("bad", "SECRET"),
        new InvalidToken("bad", "SECRET"),
        new InsufficientScope("bad", "SECRET", ["a"]),
        new KeysUnavailable("SECRET", 1),
        new IntrospectionUnavailable("SECRET", 1),
        new BodyTooLarge("bad", "SECRET"),
        new UnsupportedMediaType("bad", "SECRET"),
        new MetadataMethodNotAllowed(),
        new GateFailure("bad", "SECRET"),
        new InvalidJsonRpc("bad", -32600),
      ];
      for (const refusal of refusals) {
        const response = renderRefusal(refusal, CONTEXT);
        expect(response.status, refusal.name).to.equal(refusal.status);
        expect(JSON.parse(response.body), refusal.name).to.be.an("object").that.is.not.empty;
        expect(response.body + JSON.stringify(response.headers), refusal.name).not.to.include("SECRET");
      }
    });
  });

  describe("formatBearerChallenge", () => {
    it("orders error, error_description, scope, resource_metadata", () => {
      expect(formatBearerChallenge("invalid_token", "expired", { resourceMetadataUrl: PRM, scopes: ["a"] })).to.equal(
        `Bearer error="invalid_token", error_description="expired", scope="a", resource_metadata="${PRM}"`,
      );
      expect(formatBearerChallenge(undefined, undefined, { resourceMetadataUrl: PRM })).to.equal(`Bearer resource_metadata="${PRM}"`);
    });

    it("replaces quotes, backslashes, '=', controls and non-ASCII in error_description with '?'", () => {
      expect(formatBearerChallenge("invalid_token", 'say "hi" \\ scope=x é\n\u007f ok!#[]~', {})).to.equal(
        'Bearer error="invalid_token", error_description="say ?hi? ? scope?x ??? ok!#[]~"',
      );
      // One '?' per UTF-16 code unit: an astral character becomes two.
      expect(formatBearerChallenge(undefined, "a😀b", {})).to.equal('Bearer error_description="a??b"');
    });

    it("shortens error_description to 300 characters", () => {
      const challenge = formatBearerChallenge("invalid_token", "x".repeat(301), {});
      expect(challenge).to.equal(`Bearer error="invalid_token", error_description="${"x".repeat(297)}..."`);
      expect(formatBearerChallenge("invalid_token", "x".repeat(300), {})).to.equal(`Bearer error="invalid_token", error_description="${"x".repeat(300)}"`);
    });
  });

  describe("answerDocument", () => {
    it("answers 200 with the JSON document", () => {
      expect(answerDocument({ resource: "https://mcp.example.com/mcp" })).to.deep.equal({
        status: 200,
        headers: JSON_TYPE,
        body: '{"resource":"https://mcp.example.com/mcp"}',
      });
    });
  });

  describe("toRefusal", () => {
    it("passes refusals through unchanged", () => {
      const refusal = new InvalidToken("bad");
      expect(toRefusal(refusal)).to.equal(refusal);
    });

    it("wraps anything else as a 500 GateFailure with the cause kept for the operator only", () => {
      const failure = toRefusal(new TypeError("boom"));
      expect(failure).to.be.instanceOf(GateFailure);
      expect([failure.status, failure.description, failure.logLevel]).to.deep.equal([500, "the gateway could not decide on this request", "err"]);
      expect(failure.detail).to.match(/^unexpected error: TypeError: boom\n {4}at /);
      expect(toRefusal("plain text").detail).to.equal("unexpected error: plain text");
      expect(toRefusal(undefined).detail).to.equal("unexpected error: undefined");
      expect(renderRefusal(toRefusal(new Error("boom")), CONTEXT)).to.deep.equal({
        status: 500,
        headers: JSON_TYPE,
        body: '{"error":"server_error","error_description":"the gateway could not decide on this request"}',
      });
    });
  });
});
