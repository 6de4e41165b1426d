import { expect } from "chai";
import { extractBearerToken } from "../../plugins/mcp-oauth2/core/bearer-credential";
import { InvalidRequest, MissingToken } from "../../plugins/mcp-oauth2/core/refusals";

const MALFORMED = "the Bearer credential must be 'Bearer <token>'";

describe("bearer-credential (RFC 6750 §2.1)", () => {
  describe("accepted credentials", () => {
    it("returns the token of 'Bearer <token>'", () => {
      expect(extractBearerToken(["Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"])).to.equal("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln");
    });

    it("matches the scheme name case-insensitively (RFC 9110 §11.1)", () => {
      expect(extractBearerToken(["bearer abc"])).to.equal("abc");
      expect(extractBearerToken(["BEARER abc"])).to.equal("abc");
      expect(extractBearerToken(["bEaReR abc"])).to.equal("abc");
    });

    it("accepts one or more spaces between scheme and token", () => {
      expect(extractBearerToken(["Bearer  abc"])).to.equal("abc");
      expect(extractBearerToken(["Bearer     abc"])).to.equal("abc");
    });

    it("accepts every b64token character and trailing '=' padding", () => {
      const token = "ABCXYZabcxyz0189-._~+/";
      expect(extractBearerToken([`Bearer ${token}`])).to.equal(token);
      expect(extractBearerToken(["Bearer abc=="])).to.equal("abc==");
    });
  });

  describe("missing credentials (401 without an error code)", () => {
    for (const [label, values] of [
      ["no header", undefined],
      ["an empty value list", []],
      ["an empty header value", [""]],
      ["the Basic scheme", ["Basic dXNlcjpwYXNz"]],
      ["the DPoP scheme", ["DPoP eyJhbGciOiJFUzI1NiJ9.e30.c2ln"]],
      ["a scheme that only starts with Bearer", ["Bearerabc"]],
    ] as const) {
      it(`treats ${label} as MissingToken`, () => {
        expect(() => extractBearerToken(values)).to.throw(MissingToken).with.property("description", "no bearer token in the request");
      });
    }
  });

  describe("malformed Bearer credentials (400 invalid_request)", () => {
    for (const [label, value] of [
      ["no token", "Bearer"],
      ["only a space", "Bearer "],
      ["a tab as separator", "Bearer\tabc"],
      ["a trailing space", "Bearer abc "],
      ["a trailing tab", "Bearer abc\t"],
      ["a trailing newline", "Bearer abc\n"],
      ["two tokens", "Bearer abc def"],
      ["a comma", "Bearer abc,def"],
      ["'=' inside the token", "Bearer abc=def"],
      ["a leading '='", "Bearer =abc"],
      ["a quoted token", 'Bearer "abc"'],
      ["a non-ASCII character", "Bearer abcé"],
      ["auth-params instead of a token", 'Bearer token="abc"'],
    ] as const) {
      it(`refuses ${label}`, () => {
        const refusal = expect(() => extractBearerToken([value])).to.throw(InvalidRequest);
        refusal.with.property("description", MALFORMED);
        refusal.with.property("detail", "malformed Bearer credential");
        refusal.with.property("status", 400);
      });
    }

    it("refuses the header sent twice, even with the same value", () => {
      for (const values of [["Bearer abc", "Bearer def"], ["Bearer abc", "Bearer abc"], ["Basic dXNlcjpwYXNz", "Bearer abc"]]) {
        const refusal = expect(() => extractBearerToken(values)).to.throw(InvalidRequest);
        refusal.with.property("description", "the token header must be sent once");
        refusal.with.property("detail", "token header sent 2 times");
      }
    });
  });
});
