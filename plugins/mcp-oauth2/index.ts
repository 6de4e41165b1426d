/** Kong plugin manifest, read by kong-pdk's loader: the class, its name, version, priority and schema. */
export { McpOAuth2Plugin as Plugin } from "./handler";
export { schema as Schema } from "./schema";

export const Name = "mcp-oauth2";
export const Version = "0.1.0";
/** After Kong's cors plugin (2000) answers preflights, among the authentication plugins (jwt 1450, key-auth 1250). */
export const Priority = 1300;
