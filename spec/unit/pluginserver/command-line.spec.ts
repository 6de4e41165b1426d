import { expect } from "chai";
import { parseCommandLine } from "../../../kong/pluginserver/command-line";

describe("parseCommandLine (our plugin server)", () => {
  it("has kong-pdk's defaults", () => {
    expect(parseCommandLine(["-d", "/plugins"])).to.deep.equal({
      pluginsDirectory: "/plugins",
      kongPrefix: "/usr/local/kong",
      sockName: "js_pluginserver.sock",
      dumpAllPlugins: false,
      dumpPluginInfo: undefined,
      verbose: false,
      version: false,
      help: false,
    });
  });

  it("reads the options Kong's start and query commands use, including kong-pdk's single-dash forms", () => {
    const commandLine = parseCommandLine(["-plugins-directory", "/p", "-kong-prefix=/k", "--sock-name", "s.sock", "-v", "-v", "-dump-all-plugins"]);
    expect(commandLine).to.include({ pluginsDirectory: "/p", kongPrefix: "/k", sockName: "s.sock", verbose: true, dumpAllPlugins: true });
    expect(parseCommandLine(["-d", "/p", "--dump-plugin-info", "echo"]).dumpPluginInfo).to.equal("echo");
  });

  it("refuses unknown options", () => {
    expect(() => parseCommandLine(["-d", "/p", "--expire-ttl", "5"])).to.throw(TypeError, "Unknown option '--expire-ttl'");
  });
});
