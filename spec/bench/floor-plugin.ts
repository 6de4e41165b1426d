// The floor: a plugin that makes exactly the PDK calls mcp-oauth2 makes to let a request through
// with the ACL on (same methods, argument shapes and order) and computes nothing. Served by the
// same plugin server and driver, it measures what those round trips cost by themselves.
import { writePluginDirectory, type TestPluginDirectory } from "../support/test-plugins";

const FLOOR_PLUGIN_SOURCE = `"use strict";
class Plugin {
  constructor(config) {
    this.shared = JSON.parse(config.shared);
    this.maxBodySize = config.max_body_size;
    this.headerName = config.header_name;
  }
  async access(kong) {
    await kong.request.get_path();
    await kong.request.get_headers(1000);
    await kong.request.get_raw_body(this.maxBodySize);
    await kong.service.request.clear_header(this.headerName);
    await kong.ctx.shared.set("mcp_oauth2", this.shared);
  }
}
module.exports = {
  Plugin,
  Name: "mcp-oauth2-floor",
  Version: "0.1.0",
  Priority: 1300,
  Schema: [
    { shared: { type: "string", required: true, description: "JSON of the value set in kong.ctx.shared.mcp_oauth2" } },
    { max_body_size: { type: "integer", required: true, description: "The argument of get_raw_body, as mcp-oauth2 passes it" } },
    { header_name: { type: "string", required: true, description: "The header cleared before proxying, as mcp-oauth2 clears it" } },
  ],
};
`;

/** Writes the floor plugin into a new temporary plugins directory. */
export function createFloorPluginDirectory(): TestPluginDirectory {
  return writePluginDirectory("mcp-oauth2-floor.js", FLOOR_PLUGIN_SOURCE);
}

/** The floor's config: the ctx.shared value, body limit and token header scenario 1 uses. */
export function floorConfig(shared: Record<string, unknown>, maxBodySize: number, headerName: string): Record<string, unknown> {
  return { shared: JSON.stringify(shared), max_body_size: maxBodySize, header_name: headerName };
}
