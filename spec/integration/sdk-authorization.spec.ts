import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { expect } from "chai";
import { startAuthorizationServer, type AuthorizationServer } from "../../demo/authorization-server";
import { HeadlessOAuthClientProvider } from "../support/headless-oauth-client-provider";

/**
 * The MCP SDK's own OAuth client against the demo authorization server where no challenge names a
 * scope, which the gateway never lets happen: a stub resource server publishes only the protected
 * resource metadata (RFC 9728). The full flows through the gateway are in spec/e2e/mcp-clients.spec.ts.
 */
describe("MCP SDK authorization against the demo authorization server", () => {
  let resourceServer: Server;
  let mcpUrl: string;
  let as: AuthorizationServer;

  before(async () => {
    resourceServer = createServer((req, res) => {
      if (req.url !== "/.well-known/oauth-protected-resource/mcp") {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({ resource: mcpUrl, authorization_servers: [as.issuer], scopes_supported: ["mcp:tools", "mcp:resources"] }),
      );
    });
    await new Promise<void>((resolve) => resourceServer.listen(0, "127.0.0.1", resolve));
    mcpUrl = `http://127.0.0.1:${(resourceServer.address() as AddressInfo).port}/mcp`;
    as = await startAuthorizationServer({ port: 0, mcpResourceUrl: mcpUrl });
  });

  after(async () => {
    await as.close();
    await new Promise<void>((resolve, reject) => resourceServer.close((error) => (error ? reject(error) : resolve())));
  });

  it("takes its scope from the protected resource metadata when no challenge names one", async () => {
    const provider = new HeadlessOAuthClientProvider({ signInAs: () => ({ username: "bob", password: "bob-password" }) });
    expect(await auth(provider, { serverUrl: mcpUrl })).to.equal("REDIRECT");
    expect(provider.authorizationUrls[0]?.searchParams.get("scope")).to.equal("mcp:tools mcp:resources");
    expect(await auth(provider, { serverUrl: mcpUrl, authorizationCode: provider.takeAuthorizationCode() })).to.equal("AUTHORIZED");
    expect(provider.tokens()?.scope).to.equal("mcp:tools mcp:resources");
  });
});
