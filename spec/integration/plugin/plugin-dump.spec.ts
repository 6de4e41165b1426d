import { expect } from "chai";
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { CONFIG_DEFAULTS } from "../../../plugins/mcp-oauth2/core/gate-config";
import { findBuiltPluginsDirectory } from "../../support/plugin-server-fixture";

const run = promisify(execFile);
const root = resolve(__dirname, "../../..");

/** What Kong's start reads: the query command's stdout must be exactly one JSON array. */
async function dumpWith(argv: string[]): Promise<{ stdout: string; plugins: Array<Record<string, unknown>> }> {
  const { stdout } = await run(process.execPath, argv, { cwd: root, timeout: 20_000 });
  expect(stdout.endsWith("]\n")).to.equal(true);
  expect(stdout.trimEnd().split("\n")).to.have.length(1);
  return { stdout, plugins: JSON.parse(stdout) as Array<Record<string, unknown>> };
}

type DumpedSchema = { fields: Array<Record<string, { default?: unknown; fields?: Array<Record<string, { default?: unknown }>> }>> };

function defaultsOf(plugin: Record<string, unknown>): Record<string, unknown> {
  const schema = plugin.Schema as DumpedSchema;
  const config = schema.fields.find((field) => "config" in field)!.config;
  const fields = config.fields!.map((field) => Object.entries(field)[0]);
  return Object.fromEntries(fields.filter(([, attributes]) => "default" in attributes).map(([name, attributes]) => [name, attributes.default]));
}

describe("the built plugin as Kong's query command sees it (dist/plugins)", () => {
  // Fails early on a stale dist/; the commands name it relatively, as the packaging contract does, so the path is not used.
  before(() => {
    findBuiltPluginsDirectory();
  });

  const servers = {
    // The packaging contract's own command, run from the project root.
    "node_modules/.bin/kong-js-pluginserver -d dist/plugins": ["node_modules/.bin/kong-js-pluginserver", "-d", "dist/plugins", "--dump-all-plugins"],
    "mcp-oauth2-pluginserver (relative -d)": ["dist/kong/pluginserver/main.js", "-d", "dist/plugins", "--dump-all-plugins"],
  };

  for (const [server, argv] of Object.entries(servers)) {
    it(`${server}: one plugin, mcp-oauth2, access phase only, valid version and priority, schema defaults`, async () => {
      const { plugins } = await dumpWith(argv);
      expect(plugins).to.have.length(1);
      const [plugin] = plugins;
      expect(plugin.Name).to.equal("mcp-oauth2");
      expect(plugin.Phases).to.deep.equal(["access"]);
      expect(plugin.Version).to.match(/^\d+\.\d+\.\d+$/);
      expect(Number.isInteger(plugin.Priority)).to.equal(true);
      expect(defaultsOf(plugin)).to.deep.include({
        metadata_path: CONFIG_DEFAULTS.metadata_path,
        header_name: CONFIG_DEFAULTS.header_name,
        token_cache_ttl: CONFIG_DEFAULTS.token_cache_ttl,
        http_timeout: CONFIG_DEFAULTS.http_timeout,
        max_body_size: CONFIG_DEFAULTS.max_body_size,
        scopes_supported: [],
        scope_method_mapping: [],
      });
    });
  }

  it("prints the same dump under both servers, ours with the plugin entity's protocols narrowed to http and https", async () => {
    const [stock, ours] = await Promise.all(Object.values(servers).map(dumpWith));
    const oursSchema = ours.plugins[0].Schema as DumpedSchema;
    expect(oursSchema.fields[0]).to.deep.equal({
      protocols: {
        type: "set",
        required: true,
        len_min: 1,
        default: ["http", "https"],
        elements: { type: "string", one_of: ["http", "https"], description: "A protocol the plugin runs on." },
        description: "Protocols of requests this plugin runs on (http, https); a request on another protocol is not checked by it.",
      },
    });
    const withoutProtocols = { ...ours.plugins[0], Schema: { ...oursSchema, fields: oursSchema.fields.slice(1) } };
    expect(withoutProtocols).to.deep.equal(stock.plugins[0]);
  });
});
