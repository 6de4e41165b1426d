// A wrapper around the built mcp-oauth2 plugin, written into a temporary plugins directory: the
// real plugin runs unchanged, but one PDK method of its `kong` object misbehaves when the request
// asks for it in a header. For testing that no failure of the PDK lets a request through.
import { writePluginDirectory, type TestPluginDirectory } from "./test-plugins";

/** The request header naming the fault: JSON of a PdkFault. The wrapper reads it with get_header. */
export const FAULT_HEADER = "X-Inject-Fault";

/**
 * How one PDK method misbehaves: "reject" as kong-pdk does when Kong's PDK call fails (StepError),
 * "throw" synchronously, answer an odd `value`, or answer an object whose every use throws.
 */
export type PdkFault = { method: string; mode: "reject" | "throw" | "hostile-object" } | { method: string; mode: "answer"; value: unknown };

const WRAPPER_SOURCE = (realPlugin: string) => `"use strict";
const real = require(${JSON.stringify(realPlugin)});
// Every use throws, except the "then" lookup of the promise that delivers it.
const hostileObject = () => new Proxy({}, new Proxy({}, {
  get: (_, trap) => (target, property) => {
    if (trap === "get" && property === "then") return undefined;
    throw new Error("injected: hostile object, trap " + String(trap));
  },
}));
function misbehave(fault) {
  return (...args) => {
    if (fault.mode === "throw") throw new Error("injected: " + fault.method + " threw");
    if (fault.mode === "reject") return Promise.reject(new Error("PDK method " + fault.method + " failed: injected"));
    if (fault.mode === "hostile-object") return Promise.resolve(hostileObject());
    return Promise.resolve(fault.value);
  };
}
function sabotage(target, path, fault) {
  return new Proxy(target, {
    get(object, name) {
      const child = Reflect.get(object, name);
      const childPath = path + "." + String(name);
      if (childPath === fault.method) return misbehave(fault);
      return typeof child === "function" || (typeof child === "object" && child !== null) ? sabotage(child, childPath, fault) : child;
    },
  });
}
class Plugin {
  constructor(config) {
    this.inner = new real.Plugin(config);
  }
  async access(kong) {
    const fault = await kong.request.get_header(${JSON.stringify(FAULT_HEADER)});
    return this.inner.access(fault === undefined ? kong : sabotage(kong, "kong", JSON.parse(fault)));
  }
}
module.exports = { Plugin, Name: real.Name, Version: real.Version, Priority: real.Priority, Schema: real.Schema };
`;

/** A plugins directory serving the wrapper of `realPluginDirectory` (e.g. dist/plugins/mcp-oauth2) as mcp-oauth2. */
export function createFaultInjectingPluginDirectory(realPluginDirectory: string): TestPluginDirectory {
  return writePluginDirectory("mcp-oauth2.js", WRAPPER_SOURCE(realPluginDirectory));
}
