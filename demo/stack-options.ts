import { parseArgs } from "node:util";

/** Where the pieces of the `npm start` stack listen. */
export interface StackOptions {
  readonly host: string;
  readonly gatewayPort: number;
  readonly authorizationServerPort: number;
  readonly mcpServerPort: number;
  /** Log the authorization server's requests and sign-ins. */
  readonly verbose: boolean;
  /** Run the real Keycloak (Java 21+, fetched with Maven) instead of the built-in authorization server. */
  readonly keycloak: boolean;
  readonly help: boolean;
}

/** Defaults: Kong's proxy port, Keycloak's port in docker-compose.yml, and a port next to the compose upstream's. */
export const DEFAULT_STACK_PORTS = { gateway: 8000, authorizationServer: 8180, mcpServer: 3001 } as const;

export const STACK_USAGE = `Usage: npm start -- [options]

  --host <address>   address every server binds to and every URL names    MCP_OAUTH2_HOST      127.0.0.1
  --port <port>      gateway port, the MCP endpoint's                     MCP_OAUTH2_PORT      ${DEFAULT_STACK_PORTS.gateway}
  --as-port <port>   authorization server port                            MCP_OAUTH2_AS_PORT   ${DEFAULT_STACK_PORTS.authorizationServer}
  --mcp-port <port>  demo MCP server port (only the gateway calls it)     MCP_OAUTH2_MCP_PORT  ${DEFAULT_STACK_PORTS.mcpServer}
  --verbose          log the authorization server's requests, sign-ins    MCP_OAUTH2_VERBOSE=1
  --keycloak         run Keycloak (needs Java 21+ and Maven) instead of   MCP_OAUTH2_KEYCLOAK=1
                     the built-in authorization server, on --as-port
  --help             show this text

Flags win over environment variables; port 0 picks a free port.
`;

/**
 * Reads the stack's options from command-line flags, then environment variables, then defaults.
 * Throws on an unknown flag or a port that is not an integer from 0 to 65535.
 */
export function parseStackOptions(argv: readonly string[], env: NodeJS.ProcessEnv): StackOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: "string" },
      port: { type: "string" },
      "as-port": { type: "string" },
      "mcp-port": { type: "string" },
      verbose: { type: "boolean" },
      keycloak: { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  return {
    host: values.host ?? env.MCP_OAUTH2_HOST ?? "127.0.0.1",
    gatewayPort: readPort(["--port", values.port], ["MCP_OAUTH2_PORT", env.MCP_OAUTH2_PORT], DEFAULT_STACK_PORTS.gateway),
    authorizationServerPort: readPort(["--as-port", values["as-port"]], ["MCP_OAUTH2_AS_PORT", env.MCP_OAUTH2_AS_PORT], DEFAULT_STACK_PORTS.authorizationServer),
    mcpServerPort: readPort(["--mcp-port", values["mcp-port"]], ["MCP_OAUTH2_MCP_PORT", env.MCP_OAUTH2_MCP_PORT], DEFAULT_STACK_PORTS.mcpServer),
    verbose: values.verbose ?? env.MCP_OAUTH2_VERBOSE === "1",
    keycloak: values.keycloak ?? env.MCP_OAUTH2_KEYCLOAK === "1",
    help: values.help ?? false,
  };
}

/**
 * Parses a TCP port number (0 asks the system for a free port).
 */
export function parsePort(text: string, source: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new Error(`${source}: "${text}" is not a port number (0-65535)`);
  return port;
}

type NamedSetting = readonly [name: string, value: string | undefined];

function readPort([flagName, flag]: NamedSetting, [variable, fromEnvironment]: NamedSetting, fallback: number): number {
  if (flag !== undefined) return parsePort(flag, flagName);
  return fromEnvironment === undefined || fromEnvironment === "" ? fallback : parsePort(fromEnvironment, variable);
}
