import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { expect } from "chai";
import { findBuiltListFilterPluginsDirectory } from "../support/plugin-server-fixture";
import { skipBecause } from "../support/skip-suite";
import { readKongConf, REPOSITORY_ROOT } from "./deploy-files";

const runFile = promisify(execFile);

/** Where kong/Dockerfile puts the build and Node.js inside the image. */
const IMAGE_APP_DIRECTORY = "/opt/mcp-oauth2";
const IMAGE_NODE = "/usr/local/bin/node";

const conf = readKongConf();
/** Each plugin and the prefix of its plugin server's settings (Kong turns "-" into "_"). */
const PLUGIN_SERVERS = [
  { plugin: "mcp-oauth2", settings: "pluginserver_mcp_oauth2" },
  { plugin: "mcp-oauth2-list-filter", settings: "pluginserver_mcp_oauth2_list_filter" },
];

function readOption(command: readonly string[], name: string): string | undefined {
  const index = command.indexOf(name);
  return index < 0 ? undefined : command[index + 1];
}

describe("docker: kong/kong.conf", () => {
  it("enables the plugins next to the bundled ones, each served by its own plugin server", () => {
    expect(conf.get("plugins")).to.equal("bundled,mcp-oauth2,mcp-oauth2-list-filter");
    expect(conf.get("pluginserver_names")).to.equal("mcp-oauth2,mcp-oauth2-list-filter");
  });

  it("keeps request bodies up to the plugin's default max_body_size (1 MiB) in memory", () => {
    expect(conf.get("nginx_http_client_body_buffer_size")).to.equal("1m");
  });

  for (const { plugin, settings } of PLUGIN_SERVERS) {
    describe(`the plugin server of ${plugin}`, () => {
      const startCommand = conf.get(`${settings}_start_cmd`)?.split(" ") ?? [];
      const queryCommand = conf.get(`${settings}_query_cmd`)?.split(" ") ?? [];
      const [node, entry, ...options] = queryCommand;
      const localEntry = entry?.replace(IMAGE_APP_DIRECTORY, REPOSITORY_ROOT) ?? "";

      it("points Kong at the socket the start command makes the server listen on", () => {
        const socket = `${readOption(startCommand, "-p")}/${readOption(startCommand, "--sock-name")}`;
        expect(conf.get(`${settings}_socket`)).to.equal(socket);
      });

      it("queries the same program and plugins directory that it starts", () => {
        expect(queryCommand.slice(0, 2)).to.deep.equal(startCommand.slice(0, 2));
        expect(readOption(queryCommand, "-d")).to.equal(readOption(startCommand, "-d"));
        expect(queryCommand.at(-1)).to.equal("--dump-all-plugins");
      });

      it(`prints, run against this checkout's build, only a JSON array whose one plugin is ${plugin}, as Kong needs at startup`, async function () {
        if (!existsSync(localEntry)) skipBecause(this, `${localEntry} is not built (run npm run build)`);
        // The query runs our plugin server on dist/: fail when it or the plugins are older than their sources.
        findBuiltListFilterPluginsDirectory();
        expect(node).to.equal(IMAGE_NODE);
        const localOptions = options.map((option) => option.replace(IMAGE_APP_DIRECTORY, REPOSITORY_ROOT));
        const { stdout } = await runFile(process.execPath, [localEntry, ...localOptions], { cwd: tmpdir() });
        const dump = JSON.parse(stdout) as { Name: string }[];
        expect(dump.map((served) => served.Name)).to.deep.equal([plugin]);
      });
    });
  }
});
