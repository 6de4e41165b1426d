import { renderRefusal, toRefusal } from "../../plugins/mcp-oauth2/core/gate-response";
import { decideListResponse, LIST_FILTER_PLUGIN, type ListDecision, type ResponseSource } from "../../plugins/mcp-oauth2/core/list-filter";
import { formatOperatorLog } from "../../plugins/mcp-oauth2/core/refusals";

/** The PDK calls this plugin makes in the response phase, typed as they arrive over Kong's msgpack bridge. */
interface KongPdk {
  ctx: { shared: { get(key: string): Promise<unknown> } };
  service: {
    response: {
      get_status(): Promise<number>;
      get_header(name: string): Promise<string | undefined>;
      get_raw_body(): Promise<Uint8Array | string | undefined>;
    };
  };
  response: { exit(status: number, body: Uint8Array | string, headers: Record<string, string>): Promise<void> };
  log: Record<"err" | "warn" | "notice", (message: string) => Promise<void>>;
}

/** Where mcp-oauth2 leaves the verified identity and, for lists to filter, the listing. */
const SHARED_CONTEXT_KEY = "mcp_oauth2";

/**
 * The buffered upstream response, a PDK call per fact. Headers are read one by one: through the
 * plugin-server bridge, kong.service.response.get_headers() of a buffered response arrives empty
 * (Kong hands over a lookup table that cannot be iterated).
 */
function readResponseFromKong(kong: KongPdk): ResponseSource {
  return {
    status: () => kong.service.response.get_status(),
    header: (name) => kong.service.response.get_header(name),
    body: async () => {
      const body = await kong.service.response.get_raw_body();
      return typeof body === "string" ? Buffer.from(body, "utf8") : (body ?? new Uint8Array());
    },
  };
}

async function carryOut(kong: KongPdk, decision: ListDecision): Promise<void> {
  if (decision.kind === "pass") return;
  if (decision.log !== undefined) await kong.log[decision.log.level](decision.log.message);
  return kong.response.exit(decision.status, decision.body, { ...decision.headers });
}

/**
 * The response phase: read what mcp-oauth2 decided, decide once, answer once. Every list response
 * is answered by the plugin (kong.response.exit), so that Kong's native guard can tell one the
 * plugin never saw (its plugin server down) from one it let through.
 */
export class McpOAuth2ListFilterPlugin {
  constructor(_config: unknown) {}

  async response(kong: KongPdk): Promise<void> {
    try {
      return await carryOut(kong, await decideListResponse(await kong.ctx.shared.get(SHARED_CONTEXT_KEY), readResponseFromKong(kong)));
    } catch (error) {
      // Kong sends the buffered response when a phase throws: a PDK failure must not let a list out unfiltered.
      const refusal = toRefusal(error);
      const { status, headers, body } = renderRefusal(refusal, {});
      await Promise.resolve()
        .then(() => kong.log.err(formatOperatorLog("err", refusal.detail, LIST_FILTER_PLUGIN).message))
        .catch(() => undefined);
      return kong.response.exit(status, body, { ...headers });
    }
  }
}
