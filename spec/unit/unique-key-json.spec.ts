import { expect } from "chai";
import { DuplicateKeyError, MAX_JSON_NESTING, NestingTooDeep, parseJsonWithUniqueKeys } from "../../plugins/mcp-oauth2/core/unique-key-json";

function expectDuplicate(text: string, key: string, maxDepth?: number): void {
  const refusal = expect(() => parseJsonWithUniqueKeys(text, maxDepth)).to.throw(DuplicateKeyError);
  refusal.with.property("key", key);
  refusal.with.property("message", `duplicate member name ${JSON.stringify(key)}`);
}

describe("unique-key-json", () => {
  it("returns what JSON.parse returns for JSON without duplicates", () => {
    const text = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"x":[1,{"y":null}]}}}';
    expect(parseJsonWithUniqueKeys(text)).to.deep.equal(JSON.parse(text));
    expect(parseJsonWithUniqueKeys("[]")).to.deep.equal([]);
    expect(parseJsonWithUniqueKeys('"text"')).to.equal("text");
    expect(parseJsonWithUniqueKeys("42")).to.equal(42);
  });

  it("decides alike whether the text is compact (checked natively) or formatted (scanned)", () => {
    const compact = '{"iss":"https://as","aud":["a","b"],"exp":1}';
    const formatted = '{ "iss": "https://as",\n  "aud": [ "a", "b" ], "exp": 1 }';
    expect(parseJsonWithUniqueKeys(compact)).to.deep.equal(JSON.parse(compact));
    expect(parseJsonWithUniqueKeys(formatted)).to.deep.equal(JSON.parse(compact));
    expectDuplicate('{"iss":"https://as","iss":"https://evil"}', "iss");
    expectDuplicate('{ "iss": "https://as", "iss": "https://evil" }', "iss");
    expectDuplicate('{"a":1,"b":2,"a":1}', "a");
  });

  it("accepts the same name in different objects", () => {
    expect(parseJsonWithUniqueKeys('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}')).to.deep.equal({ a: { a: { a: 1 } }, b: [{ a: 1 }, { a: 2 }] });
  });

  const duplicates: ReadonlyArray<readonly [string, string, string]> = [
    ["at the top level", '{"method":"tools/list","method":"tools/call"}', "method"],
    ["that is empty", '{"":1,"":2}', ""],
    ["after a nested object value", '{"a":{"x":1,"y":2},"a":2}', "a"],
    ["after an array value holding the same name", '{"a":[{"x":1},"x",["x"]],"a":2}', "a"],
    ["written with a \\u escape", '{"method":"tools/list","m\\u0065thod":"tools/call"}', "method"],
    ["written once escaped, once not", '{"\\u00e9":1,"é":2}', "é"],
    ["written as an escaped surrogate pair", '{"\\ud83d\\ude00":1,"😀":2}', "😀"],
    ["with an escaped solidus", '{"a\\/b":1,"a/b":2}', "a/b"],
    ["containing an escaped quote", '{"a\\"":1,"a\\"":2}', 'a"'],
    ["ending in an escaped backslash", '{"a\\\\":1,"a\\\\":2}', "a\\"],
    ["after a value ending in a backslash", '{"a":"\\\\","a":1}', "a"],
    ["after values holding brackets", '{"a":"[{","b":"]}","a":1}', "a"],
    ["in an object inside an array", '[1,"a",{"id":1,"id":2}]', "id"],
    ["in an object inside nested arrays", '{"list":[[{"k":1,"k":2}]]}', "k"],
  ];

  for (const [label, text, key] of duplicates) {
    it(`refuses a repeated member name ${label}`, () => expectDuplicate(text, key));
  }

  it("names the repeated member as a JSON string, so quotes and line breaks stay escaped", () => {
    expect(() => parseJsonWithUniqueKeys('{"a\\"\\n":1,"a\\"\\n":2}')).to.throw(DuplicateKeyError, /^duplicate member name "a\\"\\n"$/);
  });

  it("tells an escaped backslash from an escaped quote", () => {
    expect(parseJsonWithUniqueKeys('{"a\\\\":1,"a":2}')).to.deep.equal({ "a\\": 1, a: 2 });
  });

  it("ignores braces, quotes, colons and commas inside string values", () => {
    expect(parseJsonWithUniqueKeys('{"a":"{\\"a\\":1,\\"a\\":2}","b":"}","c":"\\\\","d":",\\"d\\":"}')).to.deep.equal({
      a: '{"a":1,"a":2}',
      b: "}",
      c: "\\",
      d: ',"d":',
    });
  });

  describe("maxDepth (1 = the top level; arrays count as a level)", () => {
    it("refuses duplicates at depth maxDepth", () => {
      expectDuplicate('{"a":{"b":{"c":1,"c":2}}}', "c", 3);
      expectDuplicate('[{"params":{"name":"a","name":"b"}}]', "name", 3);
    });

    it("ignores duplicates deeper than maxDepth", () => {
      expect(parseJsonWithUniqueKeys('{"a":{"b":{"c":1,"c":2}}}', 2)).to.deep.equal({ a: { b: { c: 2 } } });
      expect(parseJsonWithUniqueKeys('[{"a":1,"a":2}]', 1)).to.deep.equal([{ a: 2 }]);
      expect(parseJsonWithUniqueKeys('[{"p":{"q":{"k":1,"k":2}}}]', 3)).to.deep.equal([{ p: { q: { k: 2 } } }]);
    });

    it("still checks shallow objects that follow a deep one", () => {
      expectDuplicate('{"deep":{"x":{"k":1,"k":2}},"deep":1}', "deep", 1);
    });
  });

  it(`reads ${MAX_JSON_NESTING} levels of nesting and refuses one more before parsing`, () => {
    const arrays = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
    const objects = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    expect(() => parseJsonWithUniqueKeys(arrays(MAX_JSON_NESTING))).not.to.throw();
    expect(() => parseJsonWithUniqueKeys(objects(MAX_JSON_NESTING))).not.to.throw();
    expect(() => parseJsonWithUniqueKeys(arrays(MAX_JSON_NESTING + 1))).to.throw(NestingTooDeep);
    expect(() => parseJsonWithUniqueKeys(objects(MAX_JSON_NESTING + 1))).to.throw(NestingTooDeep);
    expect(() => parseJsonWithUniqueKeys(`[{"a":[${arrays(MAX_JSON_NESTING - 3)}]}]`)).not.to.throw();
    expect(() => parseJsonWithUniqueKeys(`[{"a":[${arrays(MAX_JSON_NESTING - 2)}]}]`)).to.throw(NestingTooDeep);
  });

  it("counts only brackets outside strings, escaped quotes included", () => {
    const deepString = JSON.stringify("[{\"".repeat(1000));
    expect(parseJsonWithUniqueKeys(`{"a":${deepString}}`)).to.deep.equal({ a: JSON.parse(deepString) });
    expect(() => parseJsonWithUniqueKeys(`[${deepString},${"[".repeat(MAX_JSON_NESTING)}${"]".repeat(MAX_JSON_NESTING)}]`)).to.throw(NestingTooDeep);
  });

  it("refuses 100000 levels of nesting without exhausting the stack, and leaves unclosed strings to JSON.parse", () => {
    expect(() => parseJsonWithUniqueKeys("[".repeat(100_000) + "]".repeat(100_000))).to.throw(NestingTooDeep);
    const thrown = expect(() => parseJsonWithUniqueKeys('["unclosed')).to.throw(SyntaxError);
    thrown.that.is.not.instanceOf(NestingTooDeep);
  });

  it("reads a string value equal to a member name as a value, after a colon and after whitespace", () => {
    for (const text of ['{"a": "a"}', '{"a" : "a", "b": ["a"], "c":\t"b"}', '{ "id": 1, "name": "id" }', '{"a": ["x", "a"], "b": [{"a": 1}, "b"]}']) {
      expect(parseJsonWithUniqueKeys(text), text).to.deep.equal(JSON.parse(text));
    }
  });

  it("counts depth per nesting, not per bracket: many sibling containers are one level", () => {
    const siblings = `[${Array.from({ length: MAX_JSON_NESTING * 2 }, () => '[],{"a":{}}').join(",")}]`;
    expect(parseJsonWithUniqueKeys(siblings)).to.have.length(MAX_JSON_NESTING * 4);
  });

  it("leaves an unclosed string to JSON.parse even when brackets follow it", () => {
    const thrown = expect(() => parseJsonWithUniqueKeys(`"${"[".repeat(MAX_JSON_NESTING * 2)}`)).to.throw(SyntaxError);
    thrown.that.is.not.instanceOf(NestingTooDeep);
  });

  it("gives its errors their class names and a message naming the limit", () => {
    expect(() => parseJsonWithUniqueKeys('{"a":1,"a":2}')).to.throw(DuplicateKeyError).with.property("name", "DuplicateKeyError");
    expect(() => parseJsonWithUniqueKeys("[".repeat(MAX_JSON_NESTING + 1)))
      .to.throw(NestingTooDeep, `JSON nested deeper than ${MAX_JSON_NESTING} levels`)
      .with.property("name", "NestingTooDeep");
  });

  it("throws a plain SyntaxError for invalid JSON", () => {
    for (const text of ["", "{", '{"a":1,}', "{'a':1}", '{"a":1}{"a":1}', "\uFEFF{}", "NaN", '{"a":"\\x"}']) {
      const thrown = expect(() => parseJsonWithUniqueKeys(text), JSON.stringify(text)).to.throw(SyntaxError);
      thrown.that.is.not.instanceOf(DuplicateKeyError);
    }
  });
});
