import { expect } from "chai";
import {
  createLuaArray,
  createLuaTable,
  encodeCjson,
  LuaError,
  luaValueFromMsgpack,
  luaValueToMsgpack,
} from "../../../kong/driver/lua-values";

describe("Lua value conversions", () => {
  it("drops null entries of maps and reads str and bin as byte strings", () => {
    const value = luaValueFromMsgpack({ a: null, b: "ø", c: new Uint8Array([0xc3, 0xb8]) });
    expect(value).to.deep.equal(createLuaTable([["b", "\xc3\xb8"], ["c", "\xc3\xb8"]]));
  });

  it("packs a table with keys 1..n as an array and an empty table as an empty array", () => {
    expect(luaValueToMsgpack(createLuaArray(["x", "y"]))).to.deep.equal(["x", "y"]);
    expect(luaValueToMsgpack(createLuaTable())).to.deep.equal([]);
    expect(luaValueToMsgpack(luaValueFromMsgpack({}))).to.deep.equal([]);
  });

  it("packs a sequence with a hole as a map with integer keys, as lua-MessagePack does", () => {
    expect(luaValueToMsgpack(luaValueFromMsgpack([1, null, 3]))).to.deep.equal({ 1: 1, 3: 3 });
  });

  it("round-trips UTF-8 text", () => {
    expect(luaValueToMsgpack(luaValueFromMsgpack("jalapeño"))).to.equal("jalapeño");
  });
});

describe("encodeCjson", () => {
  it("escapes slashes and encodes an empty table (a plugin's empty array) as an object", () => {
    const body = luaValueFromMsgpack({ resource: "https://mcp.example/mcp", scopes_supported: [] });
    expect(encodeCjson(body)).to.equal('{"resource":"https:\\/\\/mcp.example\\/mcp","scopes_supported":{}}');
  });

  it("prints numbers like %.14g", () => {
    expect(encodeCjson(300)).to.equal("300");
    expect(encodeCjson(0.1)).to.equal("0.1");
    expect(encodeCjson(1e20)).to.equal("1e+20");
    expect(encodeCjson(1 / 3)).to.equal("0.33333333333333");
  });

  it("refuses NaN and excessively sparse arrays like cjson", () => {
    expect(() => encodeCjson(Number.NaN)).to.throw(LuaError);
    expect(() => encodeCjson(createLuaTable([[1, "a"], [40, "b"]]))).to.throw(LuaError, "excessively sparse array");
  });

  it("encodes holes in a mildly sparse array as null", () => {
    expect(encodeCjson(createLuaTable([[1, "a"], [3, "c"]]))).to.equal('["a",null,"c"]');
  });
});
