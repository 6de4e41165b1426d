/**
 * Kong plugin manifest of mcp-oauth2's companion, read by kong-pdk's loader. It has a response
 * phase only, so Kong buffers the responses of its route; mcp-oauth2 (filter_lists) turns that
 * buffering off again for every request that lists nothing to filter.
 */
export { McpOAuth2ListFilterPlugin as Plugin } from "./handler";

export const Name = "mcp-oauth2-list-filter";
export const Version = "0.1.0";
/**
 * Just above mcp-oauth2's 1300: Kong collects a plugin with a response phase, and turns
 * buffering on, when its iterator reaches it; mcp-oauth2's access phase, which runs after that,
 * can then turn buffering off for requests with nothing to filter.
 */
export const Priority = 1301;
/** No configuration: what a token may list comes from mcp-oauth2 on the same route. */
export const Schema = [];
/** MCP runs over HTTP (see mcp-oauth2's manifest: Kong Manager must not save `protocols: []`). */
export const Protocols = ["http", "https"];
