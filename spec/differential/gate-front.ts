// The gate in front of the differential upstreams: our plugin server with the built mcp-oauth2,
// driven by the Kong driver serving HTTP as a small Kong, one route per upstream and ACL, and an
// authorization server's JWKS on 127.0.0.1 with tokens for any scope set.
import { Agent, request as httpRequest } from "node:http";
import type { HeaderList, KongDriver, KongGateway, RouteDefinition } from "../../kong/driver";
import { headerListToRawHeaders } from "../../kong/driver/header-list";
import { startGateFixture } from "../support/gate-requests";
import type { AclExample } from "./acl-examples";
import { CASE_HEADER } from "./ran-log";
import type { RequestCase } from "./request-corpus";

const REQUEST_TIMEOUT_MS = 30_000;

/** What the client got back: the status, or why there was none. */
export type ClientAnswer = { status: number } | { error: string };

export interface GateFront {
  /** Routes `/<upstream>/<acl>/mcp` to `<origin>/mcp` through mcp-oauth2 with that ACL, for every pair. */
  route(upstreams: readonly { name: string; origin: string }[], examples: readonly AclExample[]): void;
  /** A valid token whose `scope` (and `mcp_scopes`) claim holds `scopes`; one per scope set. */
  tokenFor(scopes: readonly string[]): Promise<string>;
  /** Sends `request` to an upstream's route under an ACL, tagged with `caseId`, with `token` when given. */
  send(upstream: string, example: string, request: RequestCase, token: string | undefined, caseId: string): Promise<ClientAnswer>;
  readonly driver: KongDriver;
  close(): Promise<void>;
}

export async function startGateFront(): Promise<GateFront> {
  const fixture = await startGateFixture("ours");
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let gateway: KongGateway;
  try {
    gateway = await fixture.driver.listen();
  } catch (error) {
    await fixture.close();
    throw error;
  }
  const tokens = new Map<string, Promise<string>>();
  return {
    driver: fixture.driver,
    route: (upstreams, examples) => {
      const routes: RouteDefinition[] = upstreams.flatMap(({ name, origin }) =>
        examples.map((example) => ({
          id: `${name}-${example.name}`,
          paths: [`/${name}/${example.name}/mcp`],
          upstream: `${origin}/mcp`,
          stripPath: true,
          plugins: [
            {
              id: `mcp-oauth2-${name}-${example.name}`,
              config: { ...fixture.baseConfig, enable_acl: true, scope_method_mapping: example.scope_method_mapping, scope_hierarchy: example.scope_hierarchy },
            },
          ],
        })),
      );
      fixture.driver.configureRoutes(routes);
    },
    tokenFor: (scopes) => {
      const scope = [...scopes].sort().join(" ");
      let token = tokens.get(scope);
      if (token === undefined) {
        token = fixture.issueToken({ claims: { sub: "differential", scope, mcp_scopes: [...scopes] } });
        tokens.set(scope, token);
      }
      return token;
    },
    send: (upstream, example, request, token, caseId) =>
      new Promise<ClientAnswer>((resolve) => {
        // Raw header lists get no Host from node:http.
        const headers: HeaderList = [["Host", new URL(gateway.url).host], ...request.headers, [CASE_HEADER, caseId]];
        if (token !== undefined) headers.push(["Authorization", `Bearer ${token}`]);
        if (!request.chunked && (request.body.length > 0 || request.method === "POST")) headers.push(["Content-Length", String(request.body.length)]);
        const outgoing = httpRequest(`${gateway.url}/${upstream}/${example}/mcp`, { method: request.method, headers: headerListToRawHeaders(headers), agent, timeout: REQUEST_TIMEOUT_MS });
        outgoing.on("timeout", () => outgoing.destroy(new Error("timed out")));
        outgoing.on("error", (error) => resolve({ error: error.message }));
        outgoing.on("response", (response) => {
          const status = response.statusCode ?? 0;
          // An event stream (GET) stays open: its status is the answer.
          if (String(response.headers["content-type"]).startsWith("text/event-stream")) {
            resolve({ status });
            outgoing.destroy();
            return;
          }
          response.resume();
          response.on("end", () => resolve({ status }));
          response.on("close", () => resolve({ error: `${status} answer cut off` }));
        });
        if (request.chunked) {
          outgoing.write(request.body);
          outgoing.end();
        } else {
          outgoing.end(request.body);
        }
      }),
    close: async () => {
      agent.destroy();
      await fixture.close();
    },
  };
}
