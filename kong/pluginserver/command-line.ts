// The command line Kong uses for JavaScript plugin servers (kong-pdk's cli.js), read with
// node:util parseArgs.
import { parseArgs } from "node:util";

export interface PluginServerCommandLine {
  pluginsDirectory: string | undefined;
  kongPrefix: string;
  sockName: string;
  dumpAllPlugins: boolean;
  dumpPluginInfo: string | undefined;
  verbose: boolean;
  version: boolean;
  help: boolean;
}

export const USAGE = `Usage: mcp-oauth2-pluginserver -d <plugins directory> [options]

  -d, --plugins-directory <dir>   plugins directory (required)
  -p, --kong-prefix <prefix>      directory of the socket (default /usr/local/kong)
      --sock-name <name>          socket file name (default js_pluginserver.sock)
      --dump-all-plugins          print the plugins' info as one JSON array and exit
      --dump-plugin-info <name>   print one plugin's info as msgpack and exit
  -v, --verbose                   debug logging (RPC method names, never their arguments)
      --version                   print the version and exit
  -h, --help                      print this help and exit
`;

/** kong-pdk's commander setup also accepts these long options with a single dash. */
const SINGLE_DASH_ALIASES = new Set(["-plugins-directory", "-kong-prefix", "-dump-plugin-info", "-dump-all-plugins"]);

/** Parses argv (without node and script); throws a TypeError for unknown options or missing values. */
export function parseCommandLine(argv: readonly string[]): PluginServerCommandLine {
  const args = argv.map((argument) => (SINGLE_DASH_ALIASES.has(argument.split("=")[0] ?? "") ? `-${argument}` : argument));
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      "plugins-directory": { type: "string", short: "d" },
      "kong-prefix": { type: "string", short: "p", default: "/usr/local/kong" },
      "sock-name": { type: "string", default: "js_pluginserver.sock" },
      "dump-all-plugins": { type: "boolean", default: false },
      "dump-plugin-info": { type: "string" },
      verbose: { type: "boolean", short: "v", multiple: true },
      version: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  return {
    pluginsDirectory: values["plugins-directory"],
    kongPrefix: values["kong-prefix"],
    sockName: values["sock-name"],
    dumpAllPlugins: values["dump-all-plugins"],
    dumpPluginInfo: values["dump-plugin-info"],
    verbose: (values.verbose ?? []).length > 0,
    version: values.version,
    help: values.help,
  };
}
