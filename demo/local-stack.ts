import { randomUUID } from "node:crypto";
import { builtListFilterPluginsDirectory, builtPluginsDirectory, startPluginServerDriver, type KongDriver, type RouteDefinition } from "../kong/driver";
import { startAuthorizationServer, type AuthorizationServer } from "./authorization-server";
import { startKeycloakAuthorizationServer, type KeycloakAuthorizationServer } from "./keycloak-authorization-server";
import { MCP_PATH, startMcpServer, type DemoMcpServer } from "./mcp-server";
import { MCP_SCOPES } from "./realm-roles";

/** Where the pieces of the local stack listen; port 0 picks a free one. */
export interface LocalStackOptions {
  readonly host?: string;
  readonly gatewayPort: number;
  readonly authorizationServerPort: number;
  readonly mcpServerPort: number;
  /** Receives the authorization server's request and sign-in lines. */
  readonly logger?: (line: string) => void;
}

/** What the stack needs of its authorization server. */
export interface StackAuthorizationServer {
  readonly issuer: string;
  readonly jwksUri: string;
  close(): Promise<void>;
}

/** The running stack: MCP clients use {@link mcpEndpoint}, the only way in to the MCP server. */
export interface Stack<Server extends StackAuthorizationServer> {
  /** The public MCP URL, through the gateway: the plugin's `resource` and the tokens' audience. */
  readonly mcpEndpoint: string;
  readonly gatewayUrl: string;
  readonly authorizationServer: Server;
  readonly mcpServer: DemoMcpServer;
  readonly driver: KongDriver;
  close(): Promise<void>;
}

/** The `npm start` stack with the built-in authorization server (oidc-provider). */
export type LocalStack = Stack<AuthorizationServer>;

/**
 * Starts the `npm start` stack: the demo MCP server, our plugin server (from `dist/`, so build
 * first) behind the Kong-protocol local gateway, and the demo authorization server; then routes
 * `/mcp` and the protected resource metadata path through the `mcp-oauth2` plugin.
 */
export function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  return startStack(options, (host, mcpEndpoint) =>
    startAuthorizationServer({ port: options.authorizationServerPort, host, mcpResourceUrl: mcpEndpoint, logger: options.logger }),
  );
}

/**
 * `npm start -- --keycloak`: the same stack with the real Keycloak on the authorization server's
 * port. Throws KeycloakUnavailable when no Java 21+ or no Keycloak distribution can be had.
 */
export function startKeycloakStack(options: LocalStackOptions & { readonly log: (line: string) => void }): Promise<Stack<KeycloakAuthorizationServer>> {
  return startStack(options, (host, mcpEndpoint) => startKeycloakAuthorizationServer({ port: options.authorizationServerPort, host, mcpResourceUrl: mcpEndpoint, log: options.log }));
}

async function startStack<Server extends StackAuthorizationServer>(
  options: LocalStackOptions,
  startServer: (host: string, mcpEndpoint: string) => Promise<Server>,
): Promise<Stack<Server>> {
  const host = options.host ?? "127.0.0.1";
  // Started pieces are closed in reverse order, also when a later piece fails to start.
  const closers: Array<() => Promise<void>> = [];
  const closeStarted = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    const mcpServer = await startMcpServer({ port: options.mcpServerPort, host });
    closers.push(() => mcpServer.close());

    const { driver, close: closeDriver } = await startPluginServerDriver("ours", builtPluginsDirectory(), {
      // mcp-oauth2-list-filter under a plugin server of its own, as kong/kong.conf runs it.
      otherPluginsDirectories: [builtListFilterPluginsDirectory()],
      // kong/kong.yml's post-function: a request the plugin did not vouch for (plugin server
      // down) gets 503 instead of reaching the MCP server, where Kong alone would fail open.
      nativeGuard: true,
    });
    closers.push(closeDriver);
    // The gateway listens before it is configured: its port names the MCP endpoint, which the
    // authorization server needs as audience, whose issuer the plugin configuration then needs.
    const gateway = await driver.listen({ port: options.gatewayPort, host });
    const mcpEndpoint = `${gateway.url}${MCP_PATH}`;

    const authorizationServer = await startServer(host, mcpEndpoint);
    closers.push(() => authorizationServer.close());
    driver.configureRoutes([describeMcpRoute(new URL(mcpServer.url).origin, authorizationServer, mcpEndpoint)]);

    return { mcpEndpoint, gatewayUrl: gateway.url, authorizationServer, mcpServer, driver, close: closeStarted };
  } catch (error) {
    await closeStarted();
    throw error;
  }
}

/**
 * The ACL of the demo, the same as kong/kong.yml's: members (mcp:tools) may call every tool of the
 * demo server but admin_*, read prompts, complete and set the log level; admins (mcp:resources
 * as well) may call admin_* too and read resources. Either scope opens a session (session_methods);
 * tools/list stays with mcp:tools, so that a 401 for it asks for mcp:tools.
 */
export const DEMO_ACL = {
  enable_acl: true,
  acl_claim: "mcp_scopes",
  scope_method_mapping: [
    {
      scope: "mcp:tools",
      methods: [
        "notifications/*",
        "tools/list",
        ...["weather", "math", "text", "time", "units", "hash", "identity"].map((group) => `tools/call:${group}_*`),
        "prompts/*",
        "completion/complete",
        "logging/setLevel",
      ],
    },
    { scope: "mcp:resources", methods: ["notifications/*", "tools/call:admin_*", "resources/*", "subscriptions/listen"] },
  ],
  session_methods: ["initialize", "ping", "notifications/initialized", "notifications/cancelled", "server/discover"],
  filter_lists: true,
} as const;

/**
 * The local stack's route, like kong/kong.yml's: the MCP endpoint and the metadata path, proxied
 * unchanged to the MCP server, through `mcp-oauth2` with DEMO_ACL and `mcp-oauth2-list-filter`,
 * so that each token lists only the tools, prompts and resources it may use.
 */
export function describeMcpRoute(mcpServerOrigin: string, authorizationServer: { readonly issuer: string; readonly jwksUri: string }, mcpEndpoint: string): RouteDefinition {
  const { issuer, jwksUri } = authorizationServer;
  return {
    id: "mcp",
    paths: [MCP_PATH, "/.well-known/oauth-protected-resource"],
    upstream: mcpServerOrigin,
    stripPath: false,
    plugins: [
      {
        id: randomUUID(),
        config: {
          authorization_servers: [{ url: issuer, issuer, audience: mcpEndpoint, jwks_uri: jwksUri }],
          resource: mcpEndpoint,
          resource_name: "mcp-oauth2 demo MCP server",
          scopes_supported: [...MCP_SCOPES],
          ...DEMO_ACL,
        },
      },
      { id: randomUUID(), name: "mcp-oauth2-list-filter", config: {} },
    ],
  };
}
