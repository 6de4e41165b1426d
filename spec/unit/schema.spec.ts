import { expect } from "chai";
import fc from "fast-check";
import { applySchemaDefaults, processField, type PluginSchema, type SchemaField } from "../../kong/driver";
import { ConfigError } from "../../plugins/mcp-oauth2/core/config-error";
import { compileGatePolicy, CONFIG_BOUNDS, CONFIG_DEFAULTS } from "../../plugins/mcp-oauth2/core/gate-config";
import { schema } from "../../plugins/mcp-oauth2/schema";
import { decodeHex, findLuaInterpreter, formatLuaString, LUA_HEX_FUNCTION, runLua } from "../support/lua-interpreter";
import { skipBecause } from "../support/skip-suite";

type Attributes = Record<string, unknown>;
const STRING_VALIDATORS = ["match_all", "match_none", "match_any"];
// Kong 3.9.3 kong/db/schema/metaschema.lua field_schema: referenceable and encrypted are booleans it accepts on any field.
const SECRET_MARKERS = ["referenceable", "encrypted"];
const ALLOWED_ATTRIBUTES = new Set(["type", "required", "default", "description", "elements", "fields", "one_of", "between", "len_min", ...STRING_VALIDATORS, ...SECRET_MARKERS]);

/** Every field definition in the schema, nested ones included, with its dotted path. */
function walk(fields: readonly Record<string, Attributes>[], prefix = ""): Array<[string, Attributes]> {
  return fields.flatMap((field) => {
    const [name, attributes] = Object.entries(field)[0];
    const path = prefix + name;
    const nested: Array<[string, Attributes]> = [];
    const elements = attributes.elements as Attributes | undefined;
    if (elements !== undefined) nested.push([`${path}[]`, elements]);
    const records = (attributes.fields ?? elements?.fields) as Record<string, Attributes>[] | undefined;
    if (records !== undefined) nested.push(...walk(records, `${path}.`));
    return [[path, attributes] as [string, Attributes], ...nested];
  });
}

describe("schema (Kong 3.9 metaschema rules for external plugins)", () => {
  const all = walk(schema as unknown as Record<string, Attributes>[]);

  it("names exactly the configuration fields operators rely on, in console order", () => {
    expect(schema.map((field) => Object.keys(field)[0])).to.deep.equal([
      "metadata_path", "authorization_servers", "scopes_supported", "header_name", "forward_authorization_header", "upstream_headers",
      "enable_acl", "acl_mode", "acl_claim", "scope_method_mapping", "scope_hierarchy", "session_methods", "filter_lists", "token_cache_ttl", "token_cache_size",
      "http_timeout", "resource", "resource_name", "allowed_algorithms", "clock_skew", "keycloak_compat", "max_body_size",
      "run_on_preflight", "jwks_refetch_cooldown", "consumer_claim", "consumer_by", "consumer_optional", "anonymous", "log_decisions",
      "introspection_negative_cache_ttl",
    ]);
  });

  it("gives every field, at every depth, a description of 10 to 500 characters", () => {
    for (const [path, attributes] of all) {
      expect(attributes.description, path).to.be.a("string");
      expect((attributes.description as string).length, path).to.be.within(10, 500);
    }
  });

  it("uses only attributes Kong accepts, required as a boolean, one_of and between only where allowed, no null or empty-string default", () => {
    for (const [path, attributes] of all) {
      for (const attribute of Object.keys(attributes)) expect(ALLOWED_ATTRIBUTES.has(attribute), `${path}.${attribute}`).to.equal(true);
      if ("required" in attributes) expect(attributes.required, path).to.be.a("boolean");
      if ("one_of" in attributes) expect(["string", "number", "integer"], path).to.include(attributes.type);
      if ("between" in attributes) expect(["number", "integer"], path).to.include(attributes.type);
      if (STRING_VALIDATORS.some((validator) => validator in attributes)) expect(attributes.type, path).to.equal("string");
      expect(attributes.default, path).not.to.equal(null);
      expect(attributes.default, path).not.to.equal("");
    }
  });

  it("declares the defaults the core applies", () => {
    const defaults = Object.fromEntries(all.filter(([, attributes]) => "default" in attributes).map(([path, attributes]) => [path, attributes.default]));
    expect(defaults).to.deep.equal({
      metadata_path: CONFIG_DEFAULTS.metadata_path,
      "authorization_servers.jwks_uri": "/.well-known/jwks.json",
      "authorization_servers.introspection": "off",
      "authorization_servers.client_auth_method": "client_secret_basic",
      scopes_supported: [],
      header_name: "Authorization",
      forward_authorization_header: false,
      upstream_headers: [],
      enable_acl: false,
      acl_mode: "enforce",
      acl_claim: "scope",
      scope_method_mapping: [],
      scope_hierarchy: [],
      session_methods: ["initialize", "ping", "notifications/initialized", "notifications/cancelled", "server/discover"],
      filter_lists: false,
      token_cache_ttl: 300,
      token_cache_size: 10000,
      http_timeout: 10000,
      allowed_algorithms: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"],
      clock_skew: 30,
      keycloak_compat: false,
      max_body_size: 1048576,
      run_on_preflight: true,
      jwks_refetch_cooldown: 10,
      consumer_claim: [],
      consumer_by: ["username"],
      consumer_optional: false,
      log_decisions: false,
      introspection_negative_cache_ttl: 30,
    });
  });

  it("offers consumer_by username and id only (no custom_id lookup reaches an external plugin), at least one", () => {
    const consumerBy = schema.find((field) => "consumer_by" in field)!.consumer_by;
    expect([consumerBy.type, consumerBy.required, consumerBy.len_min, consumerBy.elements!.one_of]).to.deep.equal(["array", true, 1, ["username", "id"]]);
  });

  it("offers acl_mode enforce and dry_run only", () => {
    const aclMode = schema.find((field) => "acl_mode" in field)!.acl_mode;
    expect([aclMode.type, aclMode.required, aclMode.one_of]).to.deep.equal(["string", true, ["enforce", "dry_run"]]);
  });

  it("requires both members of upstream_headers and scope_hierarchy entries, and at least one implied scope", () => {
    const recordOf = (name: string) => {
      const field = schema.find((candidate) => name in candidate)![name];
      expect([field.type, field.required, field.default, field.elements!.type], name).to.deep.equal(["array", true, [], "record"]);
      return Object.fromEntries(field.elements!.fields!.map((member) => Object.entries(member)[0]));
    };
    const upstreamHeader = recordOf("upstream_headers");
    expect(Object.keys(upstreamHeader)).to.deep.equal(["header", "claim"]);
    expect([upstreamHeader.header.required, upstreamHeader.claim.required]).to.deep.equal([true, true]);
    const hierarchy = recordOf("scope_hierarchy");
    expect(Object.keys(hierarchy)).to.deep.equal(["scope", "implies"]);
    expect([hierarchy.scope.required, hierarchy.implies.required, hierarchy.implies.len_min, hierarchy.implies.elements!.type]).to.deep.equal([true, true, 1, "string"]);
  });

  it("marks the introspection client secret, and only it, as Kong marks secrets: referenceable (vault references) and encrypted", () => {
    const marked = all.filter(([, attributes]) => "referenceable" in attributes || "encrypted" in attributes);
    expect(marked.map(([path, attributes]) => [path, attributes.type, attributes.referenceable, attributes.encrypted])).to.deep.equal([
      ["authorization_servers.client_secret", "string", true, true],
    ]);
  });

  it("offers introspection off, opaque, jwt and always, and the two client secret methods, per authorization server", () => {
    const servers = schema.find((field) => "authorization_servers" in field)!.authorization_servers;
    const record = Object.fromEntries(servers.elements!.fields!.map((field) => Object.entries(field)[0]));
    expect(Object.keys(record)).to.deep.equal(["url", "issuer", "audience", "jwks_uri", "introspection", "introspection_endpoint", "client_id", "client_secret", "client_auth_method"]);
    expect([record.introspection.required, record.introspection.one_of]).to.deep.equal([true, ["off", "opaque", "jwt", "always"]]);
    expect([record.client_auth_method.required, record.client_auth_method.one_of]).to.deep.equal([true, ["client_secret_basic", "client_secret_post"]]);
    expect([record.introspection_endpoint.required, record.client_id.required, record.client_secret.required]).to.deep.equal([false, false, false]);
  });

  it("requires at least one authorization server with url and audience", () => {
    const servers = schema.find((field) => "authorization_servers" in field)!.authorization_servers;
    expect(servers.required).to.equal(true);
    expect(servers.len_min).to.equal(1);
    const record = Object.fromEntries(servers.elements!.fields!.map((field) => Object.entries(field)[0]));
    expect([record.url.required, record.issuer.required, record.audience.required]).to.deep.equal([true, false, true]);
  });
});

const KEYCLOAK = "https://sso.example.com/realms/mcp";
const MCP_URL = "https://mcp.example.com/mcp";

/** A string field of the schema, what operators write in it (the README's examples) and the mistakes Kong must refuse. */
interface StringFieldCase {
  /** The field's path in the schema; array elements are reached through the array's name. */
  path: readonly string[];
  /** The configuration, before Kong's defaults, with `value` in this field. */
  configWith(value: string): Record<string, unknown>;
  /** Where the plugin's compiler reports this field. */
  compilerPath: string;
  valid: readonly string[];
  /** A mistake and the err Kong answers for it. */
  mistakes: ReadonlyArray<readonly [string, string]>;
}

const withServer = (server: Record<string, unknown>) => ({ authorization_servers: [{ url: KEYCLOAK, audience: MCP_URL, ...server }] });
const withTop = (field: string) => (value: string) => ({ ...withServer({}), [field]: value });
const withMapping = (mapping: Record<string, unknown>) => ({ ...withServer({}), scope_method_mapping: [{ scope: "mcp:tools", methods: ["tools/list"], ...mapping }] });
const withHierarchy = (entry: Record<string, unknown>) => ({ ...withServer({}), scope_hierarchy: [{ scope: "mcp:admin", implies: ["mcp:tools"], ...entry }] });
const withIdentityHeader = (entry: Record<string, unknown>) => ({ ...withServer({}), upstream_headers: [{ header: "X-MCP-Subject", claim: "sub", ...entry }] });

const HEADER_NAME_ERR = "must be a header name: letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons";
const CLAIM_ERR = "must be a dot path of non-empty claim names, e.g. realm_access.roles: it";
const SCOPE_ERR = "must be an OAuth scope: printable ASCII without spaces, double quotes or backslashes (RFC 6749 section 3.3)";
const URL_ERR = "must be an absolute http(s) URL, e.g. https://sso.example.com/realms/mcp";
const FRAGMENT_ERR = "must not contain '#': no fragment";
const WHITESPACE_ERR = "must not contain spaces or control characters";
const CREDENTIALS_ERR = "must not contain credentials (user:password@)";
const introspectingServer = (server: Record<string, unknown>) => withServer({ introspection: "always", introspection_endpoint: "/introspect", client_id: "mcp-gateway", client_secret: "s3cret", ...server });
const METHOD_ERR =
  "must be a method pattern: a method (tools/list), a prefix (notifications/*), * or an item glob (tools/call:weather_*) for tools/call, prompts/get, resources/read, resources/subscribe, resources/unsubscribe";
const RESERVED_ERR = "identity headers cannot replace the headers that frame, route or identify the request";

const STRING_FIELD_CASES: readonly StringFieldCase[] = [
  {
    path: ["metadata_path"],
    configWith: withTop("metadata_path"),
    compilerPath: "metadata_path",
    valid: ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/", "/mcp/.well-known/p%20r"],
    mistakes: [
      ["well-known/x", "must start with '/'"],
      ["/", "must not be '/': serve the metadata at a path such as /.well-known/oauth-protected-resource"],
      ["//", "must not be '/': serve the metadata at a path such as /.well-known/oauth-protected-resource"],
      ["/.well-known/oauth protected", "must contain only URL path characters: letters, digits, -._~!$&'()*+,;=:@/% and no spaces"],
      ["/a?b", "must contain only URL path characters: letters, digits, -._~!$&'()*+,;=:@/% and no spaces"],
      ["/é", "must contain only URL path characters: letters, digits, -._~!$&'()*+,;=:@/% and no spaces"],
    ],
  },
  {
    path: ["header_name"],
    configWith: withTop("header_name"),
    compilerPath: "header_name",
    valid: ["Authorization", "X-MCP-Token"],
    mistakes: [
      ["X Token", HEADER_NAME_ERR],
      ["X-Token:", HEADER_NAME_ERR],
      ["X-Tökén", HEADER_NAME_ERR],
    ],
  },
  {
    path: ["acl_claim"],
    configWith: withTop("acl_claim"),
    compilerPath: "acl_claim",
    valid: ["scope", "mcp_scopes", "realm_access.roles"],
    mistakes: [
      ["a..b", `${CLAIM_ERR} has two dots in a row`],
      ["realm_access.", `${CLAIM_ERR} ends with a dot`],
      [".roles", `${CLAIM_ERR} starts with a dot`],
    ],
  },
  {
    path: ["scopes_supported"],
    configWith: (value) => ({ ...withServer({}), scopes_supported: ["mcp:tools", value] }),
    compilerPath: "scopes_supported[2]",
    valid: ["mcp:tools", "mcp:resources", "openid"],
    mistakes: [
      ["mcp tools", SCOPE_ERR],
      ['mcp:"tools"', SCOPE_ERR],
      ["mcp\\tools", SCOPE_ERR],
      ["mcp:tööls", SCOPE_ERR],
    ],
  },
  {
    path: ["authorization_servers", "url"],
    configWith: (url) => withServer({ url }),
    compilerPath: "authorization_servers[1].url",
    valid: [KEYCLOAK, "http://127.0.0.1:8180/realms/mcp", "http://localhost:8180/realms/mcp", "HTTPS://SSO.example.com"],
    mistakes: [
      ["sso.example.com/realms/mcp", URL_ERR],
      ["ftp://sso.example.com/realms/mcp", URL_ERR],
      ["https://", URL_ERR],
      [`${KEYCLOAK}#realm`, FRAGMENT_ERR],
      ["https://sso.example.com/realms/my realm", WHITESPACE_ERR],
      ["https://kong:pw@sso.example.com/realms/mcp", CREDENTIALS_ERR],
    ],
  },
  {
    path: ["authorization_servers", "jwks_uri"],
    configWith: (jwksUri) => withServer({ jwks_uri: jwksUri }),
    compilerPath: "authorization_servers[1].jwks_uri",
    valid: ["/.well-known/jwks.json", "/protocol/openid-connect/certs", "protocol/openid-connect/certs", "http://keycloak:8080/realms/mcp/protocol/openid-connect/certs", "./certs?v=2"],
    mistakes: [
      ["file:///etc/jwks.json", "must be a path appended to the url (/protocol/openid-connect/certs) or an absolute http(s) URL"],
      ["localhost:8080/jwks", "must be a path appended to the url (/protocol/openid-connect/certs) or an absolute http(s) URL"],
      ["/certs#key", FRAGMENT_ERR],
      ["/protocol/openid-connect/ certs", WHITESPACE_ERR],
      ["https://kong:pw@keycloak:8080/certs", CREDENTIALS_ERR],
    ],
  },
  {
    path: ["authorization_servers", "introspection_endpoint"],
    configWith: (endpoint) => introspectingServer({ introspection_endpoint: endpoint }),
    compilerPath: "authorization_servers[1].introspection_endpoint",
    valid: ["/protocol/openid-connect/token/introspect", "protocol/openid-connect/token/introspect", "http://keycloak:8080/realms/mcp/protocol/openid-connect/token/introspect"],
    mistakes: [
      ["file:///introspect", "must be a path appended to the url (/protocol/openid-connect/token/introspect) or an absolute http(s) URL"],
      ["keycloak:8080/introspect", "must be a path appended to the url (/protocol/openid-connect/token/introspect) or an absolute http(s) URL"],
      ["/introspect#token", FRAGMENT_ERR],
      ["/token/ introspect", WHITESPACE_ERR],
      ["https://kong:pw@keycloak:8080/introspect", CREDENTIALS_ERR],
    ],
  },
  {
    path: ["resource"],
    configWith: withTop("resource"),
    compilerPath: "resource",
    valid: [MCP_URL, "http://127.0.0.1:8000/mcp", "http://localhost:8000/mcp"],
    mistakes: [
      ["/mcp", "must be an absolute http(s) URL, e.g. https://mcp.example.com/mcp"],
      ["mcp.example.com/mcp", "must be an absolute http(s) URL, e.g. https://mcp.example.com/mcp"],
      [`${MCP_URL}#tools`, FRAGMENT_ERR],
      ['https://mcp.example.com/"mcp"', "must not contain double quotes, backslashes, spaces or control characters: it is quoted in challenges"],
      [`${MCP_URL} `, "must not contain double quotes, backslashes, spaces or control characters: it is quoted in challenges"],
    ],
  },
  {
    path: ["upstream_headers", "header"],
    configWith: (header) => withIdentityHeader({ header }),
    compilerPath: "upstream_headers[1].header",
    valid: ["X-MCP-Subject", "X-MCP-Client", "X-MCP-Roles", "X-Proxy-User", "Hosted-By"],
    mistakes: [
      ["X Subject", HEADER_NAME_ERR],
      ["X-Subject:", HEADER_NAME_ERR],
      ["Host", `must not be Host: ${RESERVED_ERR}`],
      ["host", `must not be Host: ${RESERVED_ERR}`],
      ["content-length", `must not be Content-Length: ${RESERVED_ERR}`],
      ["Content-Type", `must not be Content-Type: ${RESERVED_ERR}`],
      ["TRANSFER-ENCODING", `must not be Transfer-Encoding: ${RESERVED_ERR}`],
      ["te", `must not be TE: ${RESERVED_ERR}`],
      ["Upgrade", `must not be Upgrade: ${RESERVED_ERR}`],
      ["mcp-session-id", `must not be Mcp-Session-Id: ${RESERVED_ERR}`],
      ["Mcp-Method", `must not be Mcp-Method: ${RESERVED_ERR}`],
      ["MCP-Protocol-Version", `must not be MCP-Protocol-Version: ${RESERVED_ERR}`],
      ["Proxy-Authorization", "must not start with Proxy-: identity headers cannot address proxies"],
    ],
  },
  {
    path: ["upstream_headers", "claim"],
    configWith: (claim) => withIdentityHeader({ claim }),
    compilerPath: "upstream_headers[1].claim",
    valid: ["sub", "azp", "realm_access.roles"],
    mistakes: [
      ["a..b", `${CLAIM_ERR} has two dots in a row`],
      ["realm_access.", `${CLAIM_ERR} ends with a dot`],
    ],
  },
  {
    path: ["scope_method_mapping", "scope"],
    configWith: (scope) => withMapping({ scope }),
    compilerPath: "scope_method_mapping[1].scope",
    valid: ["mcp:tools", "mcp:weather", "mcp:resources"],
    mistakes: [["mcp weather", SCOPE_ERR]],
  },
  {
    path: ["scope_method_mapping", "methods"],
    configWith: (method) => withMapping({ methods: [method] }),
    compilerPath: "scope_method_mapping[1].methods[1]",
    valid: [
      "initialize",
      "ping",
      "notifications/*",
      "server/discover",
      "tools/*",
      "tools/call:weather_*",
      "tools/list",
      "resources/read:docs://*",
      "resources/list",
      "prompts/*",
      "*",
      "completion/complete",
      "logging/setLevel",
      "subscriptions/listen",
      "prompts/get:summarize?",
      "resources/subscribe:file:///srv/public/*",
      "resources/unsubscribe:urn:",
      "notifications/tools/list_changed",
    ],
    mistakes: [
      ["tools/call:", "needs a glob after ':', e.g. tools/call:weather_*"],
      ["not a pattern", METHOD_ERR],
      ["tools/list:weather", METHOD_ERR],
      ["tools/*/call", METHOD_ERR],
      ["/tools/list", "must not start with '/': method names look like tools/list"],
      ["tools//list", "must not contain '//' in the method name"],
      ["tools/", "must not end with '/': write tools/* for every tools method"],
    ],
  },
  {
    // The same method patterns, for every token holding a mapped scope.
    path: ["session_methods"],
    configWith: (method) => ({ ...withServer({}), session_methods: [method] }),
    compilerPath: "session_methods[1]",
    valid: ["initialize", "ping", "notifications/*", "server/discover", "*", "tools/call:echo"],
    mistakes: [
      ["not a pattern", METHOD_ERR],
      ["tools/call:", "needs a glob after ':', e.g. tools/call:weather_*"],
      ["tools/", "must not end with '/': write tools/* for every tools method"],
    ],
  },
  {
    path: ["scope_hierarchy", "scope"],
    configWith: (scope) => withHierarchy({ scope }),
    compilerPath: "scope_hierarchy[1].scope",
    valid: ["mcp:admin"],
    mistakes: [["mcp admin", SCOPE_ERR]],
  },
  {
    path: ["scope_hierarchy", "implies"],
    configWith: (implied) => withHierarchy({ implies: [implied] }),
    compilerPath: "scope_hierarchy[1].implies[1]",
    valid: ["mcp:tools", "mcp:resources"],
    mistakes: [["mcp:tools mcp:resources", SCOPE_ERR]],
  },
];

/** The definition Kong applies to a value of the field at `path` (an array's elements, for an array). */
function findStringField(path: readonly string[]): Attributes {
  let fields = schema as unknown as Record<string, Attributes>[];
  let found: Attributes | undefined;
  for (const name of path) {
    found = fields.map((entry) => entry[name]).find((definition) => definition !== undefined);
    if (found === undefined) throw new Error(`no field ${path.join(".")}`);
    if (found.type === "array") found = found.elements as Attributes;
    fields = (found.fields ?? []) as Record<string, Attributes>[];
  }
  expect(found!.type, path.join(".")).to.equal("string");
  return found!;
}

/** The field's string validators as a Lua table constructor. */
function formatLuaValidators(field: Attributes): string {
  const text = (value: unknown) => formatLuaString(Buffer.from(String(value), "utf8").toString("latin1"));
  const rules = (list: unknown) => `{${((list ?? []) as Array<{ pattern: string; err: string }>).map(({ pattern, err }) => `{pattern = ${text(pattern)}, err = ${text(err)}}`).join(", ")}}`;
  const any = field.match_any as { patterns: string[]; err: string } | undefined;
  return `{len_min = ${Number(field.len_min ?? 1)}, match_none = ${rules(field.match_none)}, match_all = ${rules(field.match_all)}, match_any = ${
    any === undefined ? "nil" : `{patterns = {${any.patterns.map(text).join(", ")}}, err = ${text(any.err)}}`
  }}`;
}

/**
 * Kong's string validators in its validators_order (kong/db/schema/init.lua), as Lua code: the
 * implicit len_min of 1, then match_none, match_all and match_any, each with string.match.
 */
const LUA_VALIDATE_FUNCTION = `local function validate(value, field)
  if #value < field.len_min then return "length must be at least " .. field.len_min end
  for _, rule in ipairs(field.match_none) do if value:match(rule.pattern) then return rule.err end end
  for _, rule in ipairs(field.match_all) do if not value:match(rule.pattern) then return rule.err end end
  if field.match_any then
    for _, pattern in ipairs(field.match_any.patterns) do if value:match(pattern) then return nil end end
    return field.match_any.err
  end
  return nil
end`;

/** What Kong answers for each value in the field, evaluated by real Lua: undefined when it saves, else the err. */
function validateInLua(interpreter: string, field: Attributes, values: readonly string[]): Array<string | undefined> {
  const program = `${LUA_HEX_FUNCTION}
${LUA_VALIDATE_FUNCTION}
local field = ${formatLuaValidators(field)}
for line in io.lines() do
  local value = line:gsub("..", function(b) return string.char(tonumber(b, 16)) end)
  local err = validate(value, field)
  io.write(err and ("E" .. hex(err)) or "OK", "\\n")
end`;
  const input = values.map((value) => `${Buffer.from(value, "utf8").toString("hex")}\n`).join("");
  return runLua(interpreter, program, input)
    .split("\n")
    .slice(0, values.length)
    .map((line) => (line === "OK" ? undefined : Buffer.from(decodeHex(line.slice(1)), "latin1").toString("utf8")));
}

/** What the driver's Kong emulation answers for the value: undefined when Kong saves it, else the message. */
function validateInDriver(field: Attributes, value: string): string | undefined {
  const errors = processField({ ...(field as unknown as SchemaField), required: true }, value).errors;
  return errors === undefined ? undefined : String(errors);
}

/** The plugin's own verdict on a config: undefined when it compiles, else the ConfigError's path. */
function compilerRefusalPath(config: Record<string, unknown>): string | undefined {
  try {
    compileGatePolicy(config);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.path;
    throw error;
  }
}

describe("schema: what Kong refuses when a configuration is saved (Lua patterns)", () => {
  for (const fieldCase of STRING_FIELD_CASES) {
    const name = fieldCase.path.join(".");
    describe(name, () => {
      const field = findStringField(fieldCase.path);

      it("accepts the README's examples and refuses each mistake with its err, in real Lua as Kong runs the validators", function () {
        const interpreter = findLuaInterpreter();
        if (interpreter === undefined) skipBecause(this, "no luajit or lua5.1 on the PATH (apt-get install luajit)");
        const values = [...fieldCase.valid, ...fieldCase.mistakes.map(([value]) => value)];
        const expected = [...fieldCase.valid.map(() => undefined), ...fieldCase.mistakes.map(([, err]) => err)];
        expect(validateInLua(interpreter, field, values)).to.deep.equal(expected);
      });

      it("gets the same answers from the driver's Kong emulation", () => {
        for (const value of fieldCase.valid) expect(validateInDriver(field, value), value).to.equal(undefined);
        for (const [value, err] of fieldCase.mistakes) expect(validateInDriver(field, value), value).to.equal(err);
      });

      it("agrees with the plugin's compiler, which refuses the same mistakes when Kong is bypassed", () => {
        for (const value of fieldCase.valid) expect(compilerRefusalPath(fieldCase.configWith(value)), value).to.equal(undefined);
        for (const [value] of fieldCase.mistakes) expect(compilerRefusalPath(fieldCase.configWith(value)), value).to.equal(fieldCase.compilerPath);
      });
    });
  }

  it("agrees with the compiler on 1,000 generated values per field whose rule a pattern expresses exactly (fixed seed)", () => {
    const exact = STRING_FIELD_CASES.filter(({ path }) => !["url", "jwks_uri", "resource"].includes(path.at(-1)!));
    const character = fc.constantFrom(..."aZ9-_.:/*?%$#@!~'\"\\ é\t".split(""), "\u0000", "tools/call:", "Host", "Proxy-");
    const values = fc.sample(fc.array(character, { minLength: 1, maxLength: 8 }).map((parts) => parts.join("")), { seed: 13, numRuns: 1000 });
    for (const fieldCase of exact) {
      const field = findStringField(fieldCase.path);
      for (const value of values) {
        const kongRefuses = validateInDriver(field, value) !== undefined;
        const pluginRefuses = compilerRefusalPath(fieldCase.configWith(value)) !== undefined;
        expect(pluginRefuses, `${fieldCase.path.join(".")} = ${JSON.stringify(value)}`).to.equal(kongRefuses);
      }
    }
  });

  it("bounds every number with between, from the compiler's CONFIG_BOUNDS", () => {
    const bounded = Object.fromEntries(walk(schema as unknown as Record<string, Attributes>[]).filter(([, attributes]) => "between" in attributes).map(([path, attributes]) => [path, attributes.between]));
    expect(bounded).to.deep.equal(CONFIG_BOUNDS);
    expect(CONFIG_BOUNDS.jwks_refetch_cooldown[0], "JWKS refetch floor").to.equal(1);
  });
});

/** The plugin's schema as its plugin server dumps it to Kong: the fields wrapped as the `config` record. */
const KONG_PLUGIN_SCHEMA: PluginSchema = { name: "mcp-oauth2", fields: [{ config: { type: "record", fields: schema as unknown as Array<Record<string, SchemaField>> } }] };

/** Mistakes no pattern can express: Kong saves them, the plugin refuses them on the first request (500, logged). */
const PLUGIN_ONLY_MISTAKES: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
  [
    "two servers with the same issuer",
    { authorization_servers: [{ url: KEYCLOAK, audience: MCP_URL }, { url: "https://sso2.example.com/realms/mcp", issuer: KEYCLOAK, audience: MCP_URL }] },
    `authorization_servers[2].issuer: '${KEYCLOAK}' is the issuer of an earlier server too: a token's iss must name one authorization server`,
  ],
  [
    "a url the WHATWG URL parser refuses",
    withServer({ url: "https://sso.example.com:99999/realms/mcp" }),
    "authorization_servers[1].url: 'https://sso.example.com:99999/realms/mcp' is not an absolute http(s) URL (the WHATWG URL parser refuses it)",
  ],
  [
    "an identity header that is header_name",
    { ...withIdentityHeader({ header: "X-MCP-Token" }), header_name: "x-mcp-token" },
    "upstream_headers[1].header: 'X-MCP-Token' is header_name, which carries the token",
  ],
  [
    "an identity header listed twice",
    { ...withServer({}), upstream_headers: [{ header: "X-MCP-Subject", claim: "sub" }, { header: "x-mcp-subject", claim: "azp" }] },
    "upstream_headers[2].header: 'x-mcp-subject' is listed twice: each header carries one claim",
  ],
  [
    "introspection on without an endpoint",
    introspectingServer({ introspection_endpoint: undefined }),
    "authorization_servers[1].introspection_endpoint: is required when introspection is always",
  ],
  [
    "introspection on without client_secret",
    introspectingServer({ client_secret: undefined }),
    "authorization_servers[1].client_secret: is required when introspection is always",
  ],
  [
    "introspection on at five servers",
    { authorization_servers: [0, 1, 2, 3, 4].map((index) => ({ ...introspectingServer({}).authorization_servers[0], url: `https://sso${index}.example.com/realms/mcp` })) },
    "authorization_servers: at most 4 servers may introspect opaque tokens (introspection opaque or always): an opaque token is offered to each in turn",
  ],
  [
    "a scope_hierarchy cycle",
    { ...withServer({}), scope_hierarchy: [{ scope: "mcp:admin", implies: ["mcp:tools"] }, { scope: "mcp:tools", implies: ["mcp:admin"] }] },
    "scope_hierarchy: cycle: mcp:admin -> mcp:tools -> mcp:admin (a scope cannot imply itself)",
  ],
];

describe("schema: what only the plugin refuses, on the first request", () => {
  for (const [mistake, config, logged] of PLUGIN_ONLY_MISTAKES) {
    it(`${mistake}: Kong saves it, the compiler names the field and the rule`, () => {
      const stored = applySchemaDefaults(KONG_PLUGIN_SCHEMA, config);
      const thrown = expect(() => compileGatePolicy(stored)).to.throw(ConfigError);
      thrown.with.property("message", logged);
    });
  }
});
