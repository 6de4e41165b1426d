import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { expect } from "chai";
import { decodeJwt } from "jose";
import { startAuthorizationServer, type AuthorizationServer } from "../../demo/authorization-server";
import { HeadlessOAuthClientProvider } from "../support/headless-oauth-client-provider";

/**
 * The MCP SDK's own OAuth client (discovery, dynamic registration, PKCE, code exchange, step-up,
 * client_credentials) against the demo authorization server. A stub resource server publishes
 * only the protected resource metadata (RFC 9728) that the gateway serves in the full stack.
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

  it("registers, signs the member in, and steps up to the admin with the same registration", async () => {
    const signIns = [
      { username: "alice", password: "alice-password" },
      { username: "bob", password: "bob-password" },
    ];
    const provider = new HeadlessOAuthClientProvider({
      signInAs: () => {
        const next = signIns.shift();
        if (next === undefined) throw new Error("no more sign-ins expected");
        return next;
      },
    });

    expect(await auth(provider, { serverUrl: mcpUrl, scope: "mcp:tools" })).to.equal("REDIRECT");
    const clientId = provider.clientInformation()?.client_id;
    expect(clientId).to.be.a("string");
    const firstRequest = provider.authorizationUrls[0];
    expect(firstRequest?.origin + (firstRequest?.pathname ?? "")).to.equal(as.authorizationEndpoint);
    expect(firstRequest?.searchParams.get("scope")).to.equal("mcp:tools");
    expect(firstRequest?.searchParams.get("resource")).to.equal(mcpUrl);
    expect(await auth(provider, { serverUrl: mcpUrl, authorizationCode: provider.takeAuthorizationCode() })).to.equal("AUTHORIZED");
    expect(decodeJwt(String(provider.tokens()?.access_token))).to.deep.include({ preferred_username: "alice", mcp_scopes: ["mcp:tools"] });

    // What the transport does on a 403 insufficient_scope: authorize again with the challenge's scope.
    expect(await auth(provider, { serverUrl: mcpUrl, scope: "mcp:resources mcp:tools" })).to.equal("REDIRECT");
    expect(await auth(provider, { serverUrl: mcpUrl, authorizationCode: provider.takeAuthorizationCode() })).to.equal("AUTHORIZED");
    const stepUp = decodeJwt(String(provider.tokens()?.access_token));
    expect(stepUp).to.deep.include({ preferred_username: "bob", azp: clientId, mcp_scopes: ["mcp:tools", "mcp:resources"] });
    expect(provider.clientInformation()?.client_id).to.equal(clientId);
    expect(signIns).to.have.length(0);
  });

  it("takes its scope from the protected resource metadata when no challenge names one", async () => {
    const provider = new HeadlessOAuthClientProvider({ signInAs: () => ({ username: "bob", password: "bob-password" }) });
    expect(await auth(provider, { serverUrl: mcpUrl })).to.equal("REDIRECT");
    expect(provider.authorizationUrls[0]?.searchParams.get("scope")).to.equal("mcp:tools mcp:resources");
    expect(await auth(provider, { serverUrl: mcpUrl, authorizationCode: provider.takeAuthorizationCode() })).to.equal("AUTHORIZED");
    expect(provider.tokens()?.scope).to.equal("mcp:tools mcp:resources");
  });

  it("obtains a service-account token with the SDK's ClientCredentialsProvider", async () => {
    const provider = new ClientCredentialsProvider({
      clientId: as.machineClient.clientId,
      clientSecret: as.machineClient.clientSecret,
      scope: "mcp:tools",
      expectedIssuer: as.issuer,
    });
    expect(await auth(provider, { serverUrl: mcpUrl })).to.equal("AUTHORIZED");
    expect(decodeJwt(String(provider.tokens()?.access_token))).to.deep.include({
      aud: [mcpUrl, "account"],
      azp: "mcp-machine",
      scope: "mcp:tools",
      mcp_scopes: ["mcp:tools"],
    });
  });
});
