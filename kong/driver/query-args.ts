import { createLuaArray, type LuaTable, type LuaValue } from "./lua-values";

/** ngx.unescape_uri on a byte string: "%XX" becomes the byte, "+" a space, bad escapes stay. */
function unescapeQueryComponent(component: string): string {
  return component
    .replaceAll("+", " ")
    .replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/**
 * Decodes a raw query string like `ngx.req.get_uri_args(max)`: an argument without "=" is `true`,
 * repeated names collect into a sequence, empty names are skipped, parsing stops after `maxArgs`.
 */
export function decodeQueryArgs(rawQuery: string, maxArgs: number): LuaTable {
  const collected = new Map<string, LuaValue[]>();
  let parsed = 0;
  for (const part of rawQuery.split("&")) {
    if (parsed >= maxArgs) break;
    if (part === "") continue;
    const separator = part.indexOf("=");
    const name = unescapeQueryComponent(separator === -1 ? part : part.slice(0, separator));
    if (name === "") continue;
    const value: LuaValue = separator === -1 ? true : unescapeQueryComponent(part.slice(separator + 1));
    parsed += 1;
    collected.set(name, [...(collected.get(name) ?? []), value]);
  }
  const table: LuaTable = new Map();
  for (const [name, values] of collected) {
    table.set(name, values.length === 1 ? values[0] : createLuaArray(values));
  }
  return table;
}
