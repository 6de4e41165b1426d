import { expect } from "chai";
import { checkBodyHeaders, checkJsonContentType, parseMediaType } from "../../plugins/mcp-oauth2/core/json-body-headers";
import { InvalidRequest, UnsupportedMediaType } from "../../plugins/mcp-oauth2/core/refusals";

const NOT_JSON = "JSON-RPC bodies must be sent as application/json";
const NOT_UTF8 = "JSON-RPC bodies must be UTF-8: send no charset, or charset=utf-8";
const COMPRESSED = "compressed request bodies are not accepted: send the JSON-RPC body without Content-Encoding";

function expectMediaTypeRefused(contentType: string | undefined, description: string): void {
  const refusal = expect(() => checkJsonContentType(contentType), JSON.stringify(contentType)).to.throw(UnsupportedMediaType);
  refusal.with.property("status", 415);
  refusal.with.property("description", description);
}

function headerMap(entries: Record<string, string[]>): ReadonlyMap<string, readonly string[]> {
  return new Map(Object.entries(entries));
}

describe("json-body-headers", () => {
  describe("parseMediaType (RFC 9110 §8.3.1)", () => {
    it("reads the essence in lower case and each parameter, unquoting quoted values", () => {
      expect(parseMediaType("Application/JSON ; Charset=\"UTF-8\";q=\"a\\\"b\"")).to.deep.equal({
        essence: "application/json",
        parameters: [
          ["charset", "UTF-8"],
          ["q", 'a"b'],
        ],
      });
      expect(parseMediaType("application/json;;")).to.deep.equal({ essence: "application/json", parameters: [] });
    });

    it("returns undefined for anything off the grammar", () => {
      for (const value of ["", "application", "/json", "application/", "application/json charset=utf-8", "application/json; charset", "application/json; charset=", 'application/json; charset="utf-8', "application/json; =utf-8", "application /json", "application/json; charset=utf-8 x", "application/js on", "application/json; charset utf-8"]) {
        expect(parseMediaType(value), JSON.stringify(value)).to.equal(undefined);
      }
    });
  });

  describe("checkJsonContentType", () => {
    it("accepts application/json and +json with no charset or utf-8 in any case and quoting", () => {
      for (const value of ["application/json", "APPLICATION/JSON", "application/json; charset=utf-8", "application/json;charset=UTF-8", 'application/json; charset="utf-8"', "application/json; charset=utf8", "application/json; charset=UTF8", "application/vnd.api+json", "application/json; profile=x", "application/json  ; charset=utf-8", "application/json\t;\tcharset=utf-8", "application/problem+json ;charset=utf8"]) {
        expect(() => checkJsonContentType(value), value).not.to.throw();
      }
    });

    it("refuses every other charset, a charset given twice, and a charset hidden from lenient parsers (415)", () => {
      for (const value of [
        "application/json; charset=utf-7",
        "application/json; charset=UTF-7",
        'application/json; charset="utf-7"',
        "application/json; charset=utf-7-imap",
        "application/json; charset=utf-16le",
        "application/json; charset=us-ascii",
        "application/json; charset=iso-8859-1",
        "application/json; charset=utf-8; charset=utf-7",
        "application/json; charset=utf-8; charset=utf-8",
        "application/json; CHARSET=utf-7",
      ]) {
        expectMediaTypeRefused(value, NOT_UTF8);
      }
      expectMediaTypeRefused('application/json; x="; charset=utf-7', NOT_JSON);
    });

    it("refuses a missing or non-JSON media type (415)", () => {
      for (const value of [undefined, "text/plain", "application/jsonx", "application/x-www-form-urlencoded", "application/json, text/plain"]) expectMediaTypeRefused(value, NOT_JSON);
    });

    it("says what was received in the operator's detail, cut to 100 characters", () => {
      const refusal = expect(() => checkJsonContentType(`text/${"x".repeat(5000)}`)).to.throw(UnsupportedMediaType);
      refusal.with.property("detail").that.has.length.below(250);
      expect(() => checkJsonContentType("text/plain")).to.throw(UnsupportedMediaType).with.property("detail", `${NOT_JSON}: content-type "text/plain"`);
      expect(() => checkJsonContentType(undefined)).to.throw(UnsupportedMediaType).with.property("detail", `${NOT_JSON}: content-type none`);
    });
  });

  describe("checkBodyHeaders", () => {
    it("accepts no Content-Encoding, or identity", () => {
      expect(() => checkBodyHeaders(headerMap({ "content-type": ["application/json"] }))).not.to.throw();
      expect(() => checkBodyHeaders(headerMap({ "content-encoding": ["identity"] }))).not.to.throw();
      expect(() => checkBodyHeaders(headerMap({ "content-encoding": ["Identity, identity"] }))).not.to.throw();
      // RFC 9110 §5.6.1: empty list elements do not count.
      expect(() => checkBodyHeaders(headerMap({ "content-encoding": ["", "identity, ,"] }))).not.to.throw();
    });

    it("refuses every content coding a body parser would decode (415)", () => {
      for (const coding of ["gzip", "deflate", "br", "x-gzip", "GZIP", "identity, gzip", "zstd"]) {
        const refusal = expect(() => checkBodyHeaders(headerMap({ "content-encoding": [coding] })), coding).to.throw(UnsupportedMediaType);
        refusal.with.property("description", COMPRESSED);
        refusal.with.property("detail", `Content-Encoding ${JSON.stringify(coding)}`);
      }
      expect(() => checkBodyHeaders(headerMap({ "content-encoding": ["identity", "gzip"] }))).to.throw(UnsupportedMediaType);
    });

    it("refuses Content-Type sent twice (400 invalid_request)", () => {
      const refusal = expect(() => checkBodyHeaders(headerMap({ "content-type": ["application/json", "application/json; charset=utf-7"] }))).to.throw(InvalidRequest);
      refusal.with.property("status", 400);
      refusal.with.property("description", "Content-Type must be sent once");
      refusal.with.property("detail", "Content-Type sent 2 times");
    });
  });
});
