// The upstreams the differential suite puts behind the gate. To add one: a server in its own
// folder here that serves catalogue.json, tags what it runs with the case header into the ran log
// (../ran-log.ts) and prints "listening <port> <SDK> <version>"; its install or build step in
// install.ts; and an entry below.
import { join } from "node:path";
import { GO_BUILDS, type InstalledUpstreams, type ToolchainStatus } from "./install";

const UPSTREAMS_DIRECTORY = __dirname;
const CATALOGUE = join(UPSTREAMS_DIRECTORY, "catalogue.json");

/** How to start one upstream: argv, given where it logs what it ran. */
export interface UpstreamDefinition {
  /** Also its route's path segment. */
  readonly name: string;
  /** The front end in front of the SDK's transport, for the printed figures. */
  readonly frontEnd: string;
  /** Whether its toolchain is installed (why not, otherwise). */
  status(installed: InstalledUpstreams): ToolchainStatus;
  command(installed: InstalledUpstreams, ranLog: string): readonly string[];
}

const READY: ToolchainStatus = { ready: true };

/** The TypeScript servers run from source under tsx, as the specs do. */
function typescriptUpstream(mode: "express" | "node-http", frontEnd: string): UpstreamDefinition {
  return {
    name: `typescript-${mode}`,
    frontEnd,
    status: () => READY,
    command: (_installed, ranLog) => [process.execPath, "--import", "tsx", join(UPSTREAMS_DIRECTORY, "typescript", "server.ts"), "--mode", mode, "--ran-log", ranLog],
  };
}

function goUpstream(build: (typeof GO_BUILDS)[number]["name"]): UpstreamDefinition {
  return {
    name: build,
    frontEnd: "NewStreamableHTTPHandler (stateless) on net/http",
    status: (installed) => installed.go,
    command: (installed, ranLog) => [installed.go.binaries[build], "--catalogue", CATALOGUE, "--ran-log", ranLog],
  };
}

export const UPSTREAMS: readonly UpstreamDefinition[] = [
  typescriptUpstream("express", "createMcpExpressApp() (express.json()) + StreamableHTTPServerTransport (stateless)"),
  typescriptUpstream("node-http", "StreamableHTTPServerTransport (stateless) on node:http, reading the body itself"),
  {
    name: "python",
    frontEnd: "MCPServer.streamable_http_app(stateless_http=True) under uvicorn",
    status: (installed) => installed.python,
    command: (installed, ranLog) => [installed.python.interpreter, join(UPSTREAMS_DIRECTORY, "python", "server.py"), "--ran-log", ranLog],
  },
  ...GO_BUILDS.map(({ name }) => goUpstream(name)),
];
