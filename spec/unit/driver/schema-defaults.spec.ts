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

function violationsOf(config: unknown): string[] {
  try {
    applySchemaDefaults(schema, config);
  } catch (error) {
    if (error instanceof SchemaViolationError) return error.violations.map(({ path, message }) => `${path}: ${message}`);
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

  it("reports unknown fields, missing required fields and wrong types by path, like Kong", () => {
    expect(violationsOf({ authorization_servers: [{ url: "https://as.example" }, { jwks: "x" }], extra: 1 })).to.deep.equal([
      "config.extra: unknown field",
      "config.authorization_servers.2.jwks: unknown field",
      "config.authorization_servers.2.url: required field missing",
    ]);
    expect(violationsOf({ authorization_servers: "https://as.example", token_cache_ttl: 1.5 })).to.deep.equal([
      "config.token_cache_ttl: expected an integer",
      "config.authorization_servers: expected an array",
    ]);
  });

  it("checks one_of, between and Kong's implicit non-empty strings", () => {
    expect(
      violationsOf({ authorization_servers: [{ url: "" }], mode: "loose", token_cache_ttl: -1 }),
    ).to.deep.equal([
      "config.token_cache_ttl: value should be between 0 and 86400",
      "config.mode: expected one of: strict, lenient",
      "config.authorization_servers.1.url: length must be at least 1",
    ]);
  });

  it("treats an explicit null on a required field as missing and keeps it on an optional one", () => {
    expect(violationsOf({ authorization_servers: null })).to.deep.equal(["config.authorization_servers: required field missing"]);
    const config = applySchemaDefaults(schema, { authorization_servers: [{ url: "u" }], header_name: null });
    expect(config["header_name"]).to.equal(null);
  });

  it("formats the message like Kong's schema violation error", () => {
    expect(() => applySchemaDefaults(schema, {})).to.throw(
      SchemaViolationError,
      "schema violation (config.authorization_servers: required field missing)",
    );
  });
});
