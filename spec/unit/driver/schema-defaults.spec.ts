import { expect } from "chai";
import { applySchemaDefaults, SchemaViolationError, type PluginSchema } from "../../../kong/driver";

const schema: PluginSchema = {
  name: "example",
  fields: [
    {
      config: {
        type: "record",
        fields: [
          { header_name: { type: "string", default: "Authorization" } },
          { scopes_supported: { type: "array", elements: { type: "string" }, default: [] } },
          { token_cache_ttl: { type: "integer", default: 300, between: [0, 86400] } },
          { resource: { type: "string" } },
          { mode: { type: "string", one_of: ["strict", "lenient"], default: "strict" } },
          {
            authorization_servers: {
              type: "array",
              required: true,
              elements: {
                type: "record",
                fields: [
                  { url: { type: "string", required: true } },
                  { jwks_uri: { type: "string", default: "/.well-known/jwks.json" } },
                ],
              },
            },
          },
          { limits: { type: "record", required: true, fields: [{ max_body_size: { type: "integer", default: 1048576 } }] } },
        ],
      },
    },
  ],
};

/** What Kong answers for `config`: the Admin API's 400 body. */
function refusalOf(config: unknown): ReturnType<SchemaViolationError["toJSON"]> {
  try {
    applySchemaDefaults(schema, config);
  } catch (error) {
    if (error instanceof SchemaViolationError) return error.toJSON();
    throw error;
  }
  throw new Error("expected a schema violation");
}

describe("applySchemaDefaults", () => {
  it("fills defaults at every depth, keeps [] an array and sets absent optional fields to null", () => {
    const config = applySchemaDefaults(schema, { authorization_servers: [{ url: "https://as.example" }] });
    expect(config).to.deep.equal({
      header_name: "Authorization",
      scopes_supported: [],
      token_cache_ttl: 300,
      resource: null,
      mode: "strict",
      authorization_servers: [{ url: "https://as.example", jwks_uri: "/.well-known/jwks.json" }],
      limits: { max_body_size: 1048576 },
    });
  });

  it("nests errors as Kong does: records by field, arrays by position with null where elements passed", () => {
    expect(refusalOf({ authorization_servers: [{ url: "https://as.example" }, { jwks: "x" }], extra: 1 })).to.deep.equal({
      code: 2,
      name: "schema violation",
      message: [
        "2 schema violations (config.authorization_servers: {",
        "  [2] = {",
        '    jwks = "unknown field",',
        '    url = "required field missing"',
        "  }",
        "}; config.extra: unknown field)",
      ].join("\n"),
      fields: { config: { extra: "unknown field", authorization_servers: [null, { jwks: "unknown field", url: "required field missing" }] } },
    });
    expect(refusalOf({ authorization_servers: "https://as.example", token_cache_ttl: 1.5 })).to.deep.equal({
      code: 2,
      name: "schema violation",
      message: "2 schema violations (config.authorization_servers: expected an array; config.token_cache_ttl: expected an integer)",
      fields: { config: { token_cache_ttl: "expected an integer", authorization_servers: "expected an array" } },
    });
  });

  it("checks one_of, between and Kong's implicit non-empty strings, listing fields in order", () => {
    expect(refusalOf({ authorization_servers: [{ url: "" }], mode: "loose", token_cache_ttl: -1 }).message).to.equal(
      [
        "3 schema violations (config.authorization_servers: {",
        "  {",
        '    url = "length must be at least 1"',
        "  }",
        "}; config.mode: expected one of: strict, lenient; config.token_cache_ttl: value should be between 0 and 86400)",
      ].join("\n"),
    );
  });

  it("treats an explicit null on a required field as missing and keeps it on an optional one", () => {
    expect(refusalOf({ authorization_servers: null }).fields).to.deep.equal({ config: { authorization_servers: "required field missing" } });
    const config = applySchemaDefaults(schema, { authorization_servers: [{ url: "u" }], header_name: null });
    expect(config["header_name"]).to.equal(null);
  });

  it("throws Kong's schema violation message", () => {
    expect(() => applySchemaDefaults(schema, {})).to.throw(SchemaViolationError, "schema violation (config.authorization_servers: required field missing)");
  });

  describe("string validators (Lua patterns, in Kong's validators_order)", () => {
    const patterned: PluginSchema = {
      name: "patterned",
      fields: [
        {
          config: {
            type: "record",
            fields: [
              {
                header: {
                  type: "string",
                  match_none: [{ pattern: "^[Hh][Oo][Ss][Tt]$", err: "must not be Host" }],
                  match_all: [
                    { pattern: "^[%w-]+$", err: "must be a header name" },
                    { pattern: "^[Xx]%-", err: "must start with X-" },
                  ],
                },
              },
              { path: { type: "string", starts_with: "/", not_match: "%s" } },
              { scheme: { type: "string", match: "^https?$", err: "http or https" } },
              { uri: { type: "string", match_any: { patterns: ["^/", "^https?://."], err: "a path or an http(s) URL" } } },
              { scopes: { type: "array", len_min: 2, elements: { type: "string", match: "^[!#-[%]^-~]+$" } } },
              { name: { type: "string", len_max: 3 } },
            ],
          },
        },
      ],
    };

    function fieldErrorsOf(config: Record<string, unknown>): unknown {
      try {
        applySchemaDefaults(patterned, config);
        return undefined;
      } catch (error) {
        if (error instanceof SchemaViolationError) return error.fields["config"];
        throw error;
      }
    }

    it("accepts values every validator accepts", () => {
      expect(fieldErrorsOf({ header: "X-User", path: "/a", scheme: "https", uri: "https://a", scopes: ["a:b", "c"], name: "abc" })).to.equal(undefined);
    });

    it("answers the err of the first match_none rule that matches, else of the first match_all rule that does not", () => {
      expect(fieldErrorsOf({ header: "host" })).to.deep.equal({ header: "must not be Host" });
      expect(fieldErrorsOf({ header: "X User" })).to.deep.equal({ header: "must be a header name" });
      expect(fieldErrorsOf({ header: "Y-User" })).to.deep.equal({ header: "must start with X-" });
    });

    it("answers Kong's own messages where no err is given: starts_with, then not_match and match with the value", () => {
      expect(fieldErrorsOf({ path: "a b" })).to.deep.equal({ path: "should start with: /" });
      expect(fieldErrorsOf({ path: "/a b" })).to.deep.equal({ path: "invalid value: /a b" });
      expect(fieldErrorsOf({ scopes: ["ok", "not ok"] })).to.deep.equal({ scopes: [null, "invalid value: not ok"] });
    });

    it("lets a field's err replace its validators' messages, and match_any's err stand for all its patterns", () => {
      expect(fieldErrorsOf({ scheme: "ftp" })).to.deep.equal({ scheme: "http or https" });
      expect(fieldErrorsOf({ uri: "relative" })).to.deep.equal({ uri: "a path or an http(s) URL" });
    });

    it("checks an array's own length only once its elements pass, and a string's length in bytes", () => {
      expect(fieldErrorsOf({ scopes: ["bad scope"] })).to.deep.equal({ scopes: ["invalid value: bad scope"] });
      expect(fieldErrorsOf({ scopes: ["fine"] })).to.deep.equal({ scopes: "length must be at least 2" });
      expect(fieldErrorsOf({ name: "\u00e9\u00e9" })).to.deep.equal({ name: "length must be at most 3" });
    });
  });
});
