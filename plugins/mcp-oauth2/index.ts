/** Kong plugin manifest, read by kong-pdk's loader: the class, its name, version, priority and schema. */
export { McpOAuth2Plugin as Plugin } from "./handler";
export { schema as Schema } from "./schema";

export const Name = "mcp-oauth2";
export const Version = "0.1.0";
/** After Kong's cors plugin (2000) answers preflights, among the authentication plugins (jwt 1450, key-auth 1250). */
export const Priority = 1300;
/**
 * MCP runs over HTTP. Read by mcp-oauth2-pluginserver (the stock server ignores it), which narrows
 * the plugin entity's `protocols` to these and makes them the default, so that Kong Manager's
 * Protocols field cannot be saved empty: Kong never runs a plugin with `protocols: []`.
 */
export const Protocols = ["http", "https"];
