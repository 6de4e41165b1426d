import { expect } from "chai";
import { applySchemaDefaults, type ConsumerEntity, type KongDriver, type SchemaField } from "../../kong/driver";
import { skipBecause } from "../support/skip-suite";
import { FakeKongAdminApi } from "../support/fake-kong-admin-api";
import { readResponseHeader } from "../support/gate-driver";
import { formatToolCall, postToMcp } from "../support/gate-requests";
import { IntrospectionServer } from "../support/introspection-server";
import { JwksServer } from "../support/jwks-server";
import { buildFormPage, findMissingFormPrerequisite, FORM_PAGE_DIRECTORY, formFieldId, KongManagerFormPage } from "../support/kong-manager-form";
import { startBuiltPluginDriver, type DriverFixture } from "../support/plugin-server-fixture";
import { StaticSiteServer } from "../support/static-site-server";
import { createSigningKey, signAccessToken, type TestSigningKey } from "../support/token-factory";

const MCP_URL = "http://kong.test/mcp";

/** Kong's consumers: the Admin API serves them and the driver's load_consumer reads them. */
const CONSUMERS: ConsumerEntity[] = [
  { id: "5f6c2b2e-2f0b-4c4e-9a51-1d6a1e9f3a10", username: "mcp-machine" },
  { id: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", username: "guest", custom_id: "anonymous-mcp" },
];

type Fields = ReadonlyArray<Record<string, SchemaField>>;

function entriesOf(fields: Fields): Array<[string, SchemaField]> {
  return fields.map((entry) => Object.entries(entry)[0]!);
}

/** Kong's label for a field: its name split on "_", each word capitalised (formatPluginFieldLabel). */
function kongLabel(name: string): string {
  return name
    .split("_")
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(" ");
}

/** What an operator reads in the tooltip: the Markdown of the description, code spans unquoted. */
function renderedDescription(field: SchemaField): string | undefined {
  return field.description?.replaceAll("`", "");
}

/**
 * Issue 8: the form operators use in Kong Manager, Kong's own published Vue components
 * (@kong-ui-public/entities-plugins 9.203 PluginForm, mounted as Kong Manager's plugins/Form.vue
 * does) in Debian's Chromium, against an Admin API that serves the plugin server's real dump like
 * Kong 3.9. It must show every field with its label, description and default, and save a config
 * that the real plugin, started through the Kong driver, accepts and enforces.
 */
describe("Kong Manager's plugin form for mcp-oauth2", () => {
  let fixture: DriverFixture;
  let driver: KongDriver;
  let adminApi: FakeKongAdminApi;
  let site: StaticSiteServer;
  let form: KongManagerFormPage;
  let configFields: Fields;

  before(async function () {
    const missing = findMissingFormPrerequisite();
    if (missing !== undefined) skipBecause(this, missing);
    this.timeout(240_000);
    await buildFormPage();
    fixture = await startBuiltPluginDriver("ours", { consumers: CONSUMERS });
    driver = fixture.driver;
    configFields = driver.plugin.Schema.fields.find((entry) => "config" in entry)!["config"]!.fields!;
    adminApi = await FakeKongAdminApi.start(driver.plugin, CONSUMERS);
    site = await StaticSiteServer.start(FORM_PAGE_DIRECTORY);
    form = await KongManagerFormPage.open(site.url, adminApi.url);
  });

  after(async () => {
    await form?.close();
    await site?.close();
    await adminApi?.close();
    await fixture?.close();
  });

  it("shows every config field, at every depth, with Kong's label, its description and its default", async () => {
    await form.screenshot("defaults");
    expect(adminApi.requests.map(({ method, path, origin }) => `${method} ${path} ${String(origin)}`)).to.include.members([
      `GET / ${site.url}`,
      `GET /schemas/plugins/mcp-oauth2 ${site.url}`,
    ]);
    for (const [name, field] of entriesOf(configFields)) {
      const id = formFieldId([name]);
      expect(await form.label(id), name).to.equal(kongLabel(name));
      expect(await form.description(id), name).to.equal(renderedDescription(field));
      if (field.type === "boolean") expect(await form.isChecked(id), name).to.equal(field.default);
      else if (field.type !== "array") expect(await form.inputValue(id), name).to.equal(field.default === undefined ? "" : String(field.default));
      // Kong renders a top-level array of one_of strings as one comma-separated text input.
      else if (field.elements?.one_of !== undefined) expect(await form.inputValue(id), name).to.equal((field.default as string[]).join(","));
      else expect(await form.entryCount(id), name).to.equal(((field.default ?? []) as unknown[]).length);

      if (field.elements?.type !== "record") continue;
      await form.addEntry(id);
      for (const [memberName, member] of entriesOf(field.elements.fields ?? [])) {
        const memberId = formFieldId([name, memberName], 0);
        expect(await form.label(memberId), `${name}.${memberName}`).to.equal(kongLabel(memberName));
        expect(await form.description(memberId), `${name}.${memberName}`).to.equal(renderedDescription(member));
        if (member.type === "string") expect(await form.inputValue(memberId), `${name}.${memberName}`).to.equal(String(member.default ?? ""));
        else expect(await form.entryCount(memberId), `${name}.${memberName}`).to.equal(0);
      }
    }
    expect(form.pageErrors).to.deep.equal([]);
  });

  describe("Protocols, which Kong Manager always shows for external plugins", () => {
    async function fillOneServer(): Promise<void> {
      await form.reload(site.url, adminApi.url);
      await form.addEntry(formFieldId(["authorization_servers"]));
      await form.fill(formFieldId(["authorization_servers", "url"], 0), "https://sso.example.com/realms/mcp");
      await form.fill(formFieldId(["authorization_servers", "audience"], 0), MCP_URL);
    }

    it("comes preselected with http and https (our plugin server narrows the field), and saves them untouched", async () => {
      await fillOneServer();
      expect(await form.save()).to.match(/^Plugin mcp-oauth2 saved with id [0-9a-f-]{36}$/);
      expect(adminApi.postedPlugins.at(-1)).to.deep.include({ name: "mcp-oauth2", enabled: true, protocols: ["http", "https"] });
    });

    it("cannot be saved empty: Kong refuses protocols [], which would leave the route unchecked", async () => {
      await fillOneServer();
      const saved = adminApi.plugins.length;
      await form.selectProtocols(["http", "https"]);
      expect(await form.save()).to.contain("length must be at least 1");
      expect(adminApi.postedPlugins.at(-1)).to.deep.include({ protocols: [] });
      expect(adminApi.plugins).to.have.length(saved);
    });
  });

  describe("a save Kong refuses", () => {
    it("shows Kong's schema violation, nested by field and position, and stores nothing", async () => {
      await form.reload(site.url, adminApi.url);
      const saved = adminApi.plugins.length;
      await form.addEntry(formFieldId(["authorization_servers"]));
      await form.fill(formFieldId(["authorization_servers", "url"], 0), "sso.example.com/realms/mcp");
      await form.fill(formFieldId(["authorization_servers", "audience"], 0), MCP_URL);
      await form.fillStrings(formFieldId(["scopes_supported"]), ["mcp:tools", "mcp tools"]);
      await form.fill(formFieldId(["header_name"]), "X Token");
      const answer = JSON.parse(await form.save()) as Record<string, unknown>;
      await form.screenshot("refused");

      const message = [
        "3 schema violations (config.authorization_servers: {",
        "  {",
        '    url = "must be an absolute http(s) URL, e.g. https://sso.example.com/realms/mcp"',
        "  }",
        "}; config.header_name: must be a header name: letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons; config.scopes_supported: {",
        '  [2] = "must be an OAuth scope: printable ASCII without spaces, double quotes or backslashes (RFC 6749 section 3.3)"',
        "})",
      ].join("\n");
      expect(answer).to.deep.equal({
        code: 2,
        name: "schema violation",
        message,
        fields: {
          config: {
            authorization_servers: [{ url: "must be an absolute http(s) URL, e.g. https://sso.example.com/realms/mcp" }],
            header_name: "must be a header name: letters, digits and !#$%&'*+-.^_`|~ only, no spaces or colons",
            scopes_supported: [null, "must be an OAuth scope: printable ASCII without spaces, double quotes or backslashes (RFC 6749 section 3.3)"],
          },
        },
      });
      expect(await form.formError()).to.equal(message);
      expect(adminApi.plugins).to.have.length(saved);
      expect(form.pageErrors, "the refused POST is the page's only error").to.deep.equal(["Failed to load resource: the server responded with a status of 400 (Bad Request)"]);
    });
  });

  describe("filled in with two authorization servers, scopes and a tool ACL, then saved", () => {
    let keycloakKey: TestSigningKey;
    let otherKey: TestSigningKey;
    let keycloak: JwksServer;
    let other: JwksServer;
    let keycloakRealm: string;
    let otherIssuer: string;
    let saveOutcome: string;
    const scopeMethodMapping = [{ scope: "mcp:weather", methods: ["tools/list", "tools/call:weather_*"] }];

    before(async () => {
      [keycloakKey, otherKey] = await Promise.all([createSigningKey("RS256"), createSigningKey("ES256")]);
      [keycloak, other] = await Promise.all([JwksServer.start([keycloakKey.publicJwk]), JwksServer.start([otherKey.publicJwk])]);
      keycloakRealm = `${keycloak.url}/realms/mcp`;
      otherIssuer = `${other.url}/`;

      await form.reload(site.url, adminApi.url);
      const servers = formFieldId(["authorization_servers"]);
      await form.addEntry(servers);
      await form.addEntry(servers);
      await form.fill(formFieldId(["authorization_servers", "url"], 0), keycloakRealm);
      await form.fill(formFieldId(["authorization_servers", "audience"], 0), MCP_URL);
      await form.fill(formFieldId(["authorization_servers", "jwks_uri"], 0), "/protocol/openid-connect/certs");
      await form.fill(formFieldId(["authorization_servers", "url"], 1), other.url);
      await form.fill(formFieldId(["authorization_servers", "issuer"], 1), otherIssuer);
      await form.fill(formFieldId(["authorization_servers", "audience"], 1), MCP_URL);
      await form.fillStrings(formFieldId(["scopes_supported"]), ["mcp:weather", "mcp:admin"]);
      await form.check(formFieldId(["enable_acl"]));
      await form.addEntry(formFieldId(["scope_method_mapping"]));
      await form.fill(formFieldId(["scope_method_mapping", "scope"], 0), scopeMethodMapping[0]!.scope);
      await form.fillStrings(formFieldId(["scope_method_mapping", "methods"], 0), scopeMethodMapping[0]!.methods);
      await form.showAdditionalSettings();
      await form.fill(formFieldId(["resource"]), MCP_URL);
      await form.screenshot("filled");
      saveOutcome = await form.save();
      await form.screenshot("saved");
    });

    after(async () => {
      await keycloak?.close();
      await other?.close();
    });

    it("POSTs /plugins with http and https and exactly the typed config plus Kong's defaults", () => {
      expect(saveOutcome).to.match(/^Plugin mcp-oauth2 saved with id [0-9a-f-]{36}$/);
      const posted = adminApi.postedPlugins.at(-1)!;
      expect(posted).to.deep.include({ name: "mcp-oauth2", enabled: true, protocols: ["http", "https"] });
      const typed = {
        authorization_servers: [
          { url: keycloakRealm, audience: MCP_URL, jwks_uri: "/protocol/openid-connect/certs" },
          { url: other.url, issuer: otherIssuer, audience: MCP_URL },
        ],
        scopes_supported: ["mcp:weather", "mcp:admin"],
        enable_acl: true,
        scope_method_mapping: scopeMethodMapping,
        resource: MCP_URL,
      };
      expect(applySchemaDefaults(driver.plugin.Schema, posted["config"])).to.deep.equal(applySchemaDefaults(driver.plugin.Schema, typed));
      expect(form.pageErrors).to.deep.equal([]);
    });

    it("starts the real plugin with the saved config: a weather tool call passes, another tool gets 403", async () => {
      // What Kong stored from the POST (defaults filled, checked) is what it hands StartInstance.
      const stored = adminApi.plugins.at(-1)!;
      driver.configureRoutes([{ id: "mcp", paths: ["/mcp"], plugins: [{ id: stored.id, config: stored.config }] }]);
      const otherToken = await signAccessToken(otherKey, { issuer: otherIssuer, audience: MCP_URL, claims: { scope: "mcp:weather" } });
      const keycloakToken = await signAccessToken(keycloakKey, { issuer: keycloakRealm, audience: MCP_URL, claims: { scope: "mcp:weather" } });

      const allowed = await driver.handle(postToMcp(otherToken, formatToolCall("weather_forecast")));
      expect(allowed).to.deep.include({ kind: "proceed", verified: true });
      expect(allowed.ctxShared["mcp_oauth2"]).to.deep.include({ issuer: otherIssuer, scopes: ["mcp:weather"] });
      if (allowed.kind === "proceed") expect(allowed.upstreamRequest.headers.map(([name]) => name.toLowerCase())).not.to.include("authorization");

      const refused = await driver.handle(postToMcp(keycloakToken, formatToolCall("admin_reset")));
      expect(refused).to.deep.include({ kind: "exit", source: "plugin", status: 403, verified: false });
      expect(readResponseHeader(refused, "WWW-Authenticate")).to.match(/^Bearer .*error="insufficient_scope"/);
      expect(driver.instanceEvents.filter((event) => event.kind === "started").map((event) => event.pluginId)).to.deep.equal([stored.id]);
    });
  });
  describe("filled in with Kong consumers and the decision log, then saved", () => {
    let key: TestSigningKey;
    let jwks: JwksServer;
    let saveOutcome: string;

    before(async () => {
      key = await createSigningKey("ES256");
      jwks = await JwksServer.start([key.publicJwk]);
      await form.reload(site.url, adminApi.url);
      await form.addEntry(formFieldId(["authorization_servers"]));
      await form.fill(formFieldId(["authorization_servers", "url"], 0), jwks.url);
      await form.fill(formFieldId(["authorization_servers", "audience"], 0), MCP_URL);
      await form.fillStrings(formFieldId(["consumer_claim"]), ["azp", "sub"]);
      await form.fill(formFieldId(["consumer_by"]), "username");
      await form.check(formFieldId(["log_decisions"]));
      await form.showAdditionalSettings();
      await form.fill(formFieldId(["anonymous"]), "guest");
      await form.screenshot("consumers-filled");
      saveOutcome = await form.save();
    });

    after(() => jwks?.close());

    it("POSTs the consumer fields as typed, the lookup list split at its commas", () => {
      expect(saveOutcome).to.match(/^Plugin mcp-oauth2 saved with id [0-9a-f-]{36}$/);
      const typed = {
        authorization_servers: [{ url: jwks.url, audience: MCP_URL }],
        consumer_claim: ["azp", "sub"],
        consumer_by: ["username"],
        log_decisions: true,
        anonymous: "guest",
      };
      expect(applySchemaDefaults(driver.plugin.Schema, adminApi.postedPlugins.at(-1)!["config"])).to.deep.equal(applySchemaDefaults(driver.plugin.Schema, typed));
      expect(form.pageErrors).to.deep.equal([]);
    });

    it("names an anonymous consumer the Admin API knows, which the real plugin then authenticates as", async () => {
      const anonymous = await fetch(`${adminApi.url}/consumers/guest`);
      expect(await anonymous.json()).to.deep.include({ id: CONSUMERS[1]!.id, username: "guest" });
      const stored = adminApi.plugins.at(-1)!;
      driver.configureRoutes([{ id: "mcp", paths: ["/mcp"], plugins: [{ id: stored.id, config: stored.config }] }]);
      const tokenOf = (azp: string) => signAccessToken(key, { issuer: jwks.url, audience: MCP_URL, claims: { sub: "svc-1", azp } });

      const known = await driver.handle(postToMcp(await tokenOf("mcp-machine"), formatToolCall("weather_forecast")));
      expect(known).to.deep.include({ kind: "proceed", consumer: { id: CONSUMERS[0]!.id, username: "mcp-machine" }, credential: { id: "mcp-machine", consumer_id: CONSUMERS[0]!.id } });
      expect(known.serialized["mcp_oauth2"]).to.deep.include({ decision: "allowed", consumer: { id: CONSUMERS[0]!.id, username: "mcp-machine" } });

      const unknown = await driver.handle(postToMcp(await tokenOf("unknown-client"), formatToolCall("weather_forecast")));
      expect(unknown).to.deep.include({ kind: "proceed", consumer: CONSUMERS[1], credential: undefined });
    });

    it("refuses custom_id on save: Kong 3.9 gives external plugins no lookup by it", async () => {
      await form.reload(site.url, adminApi.url);
      await form.addEntry(formFieldId(["authorization_servers"]));
      await form.fill(formFieldId(["authorization_servers", "url"], 0), jwks.url);
      await form.fill(formFieldId(["authorization_servers", "audience"], 0), MCP_URL);
      await form.fill(formFieldId(["consumer_by"]), "username,custom_id");
      const saved = adminApi.plugins.length;
      expect(await form.save()).to.contain("expected one of: username, id");
      expect(adminApi.plugins).to.have.length(saved);
      await form.screenshot("consumers-custom-id-refused");
    });
  });

  describe("an authorization server with introspection, filled in and saved", () => {
    let introspection: IntrospectionServer;
    let saveOutcome: string;
    const secret = "gateway-secret-typed-in-the-form";

    before(async () => {
      introspection = await IntrospectionServer.start("mcp-gateway", secret);
      await form.reload(site.url, adminApi.url);
      await form.addEntry(formFieldId(["authorization_servers"]));
      const member = (name: string) => formFieldId(["authorization_servers", name], 0);
      await form.fill(member("url"), introspection.url);
      await form.fill(member("audience"), MCP_URL);
      await form.select(member("introspection"), "opaque");
      await form.fill(member("introspection_endpoint"), "/introspect");
      await form.fill(member("client_id"), "mcp-gateway");
      await form.fill(member("client_secret"), secret);
      await form.select(member("client_auth_method"), "client_secret_post");
      await form.screenshot("introspection");
      saveOutcome = await form.save();
    });

    after(() => introspection?.close());

    it("masks the client secret (encrypted), offers a vault lookup for it (referenceable), and POSTs exactly what was chosen", async () => {
      const secretField = formFieldId(["authorization_servers", "client_secret"], 0);
      const idField = formFieldId(["authorization_servers", "client_id"], 0);
      expect([await form.inputType(secretField), await form.inputType(idField)]).to.deep.equal(["password", "text"]);
      expect(await form.fieldText(secretField)).to.contain("Look up key in vault");
      expect(await form.fieldText(idField)).not.to.contain("vault");
      expect(saveOutcome).to.match(/^Plugin mcp-oauth2 saved with id [0-9a-f-]{36}$/);
      const typed = {
        authorization_servers: [
          { url: introspection.url, audience: MCP_URL, introspection: "opaque", introspection_endpoint: "/introspect", client_id: "mcp-gateway", client_secret: secret, client_auth_method: "client_secret_post" },
        ],
      };
      expect(applySchemaDefaults(driver.plugin.Schema, adminApi.postedPlugins.at(-1)!["config"])).to.deep.equal(applySchemaDefaults(driver.plugin.Schema, typed));
      expect(form.pageErrors).to.deep.equal([]);
    });

    it("starts the real plugin with the saved config: an opaque token passes on the endpoint's word, asked with client_secret_post", async () => {
      const stored = adminApi.plugins.at(-1)!;
      driver.configureRoutes([{ id: "mcp", paths: ["/mcp"], plugins: [{ id: stored.id, config: stored.config }] }]);
      const token = introspection.issue({ aud: MCP_URL, sub: "alice", scope: "mcp:tools" });
      const allowed = await driver.handle(postToMcp(token, formatToolCall("weather_forecast")));
      expect(allowed).to.deep.include({ kind: "proceed", verified: true });
      expect(allowed.ctxShared["mcp_oauth2"]).to.deep.equal({ subject: "alice", issuer: introspection.url, client_id: "mcp-client", scopes: ["mcp:tools"] });
      expect(introspection.lastRequest?.form.get("client_secret")).to.equal(secret);
      expect(introspection.lastRequest?.headers.authorization).to.equal(undefined);
    });
  });
});
