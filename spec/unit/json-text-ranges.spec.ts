import { expect } from "chai";
import { findMemberValue, replaceRanges, splitJsonContainer, trimJsonWhitespace } from "../../plugins/mcp-oauth2/core/json-text-ranges";

describe("json-text-ranges", () => {
  it("trims JSON whitespace inside the range only, down to an empty range", () => {
    expect(trimJsonWhitespace(" \t\r\n1 \n", [0, 7])).to.deep.equal([4, 5]);
    expect(trimJsonWhitespace("      ", [1, 3])).to.deep.equal([3, 3]);
    expect(trimJsonWhitespace("  x  ", [2, 3])).to.deep.equal([2, 3]);
    expect(trimJsonWhitespace("\u00a0x", [0, 2]), "no-break space is not JSON whitespace").to.deep.equal([0, 2]);
  });

  it("splits arrays and objects at their top-level commas, brackets and commas inside strings and nested values ignored", () => {
    const text = ` [ "a,]\\"", {"b":[1,2]} ,[3,{"c":"}"}],4 ] `;
    expect(splitJsonContainer(text, [1, text.length - 1]).map((range) => text.slice(...range))).to.deep.equal(['"a,]\\""', '{"b":[1,2]}', '[3,{"c":"}"}]', "4"]);
    const object = `{"x" : 1, "y,": {"z":2}}`;
    expect(splitJsonContainer(object, [0, object.length]).map((range) => object.slice(...range))).to.deep.equal(['"x" : 1', '"y,": {"z":2}']);
  });

  it("has no parts for an empty array or object, whitespace or not", () => {
    for (const text of ["[]", "[ \n ]", "{}", "{ }"]) expect(splitJsonContainer(text, [0, text.length]), text).to.deep.equal([]);
  });

  it("finds a member's value by its name as JSON.parse reads it, escapes decoded", () => {
    const text = `{"ids":[1], "i\\u0064" :\t"x\\"y" , "n":{"id":2}}`;
    expect(text.slice(...findMemberValue(text, [0, text.length], "id")!)).to.equal('"x\\"y"');
    expect(text.slice(...findMemberValue(text, [0, text.length], "n")!)).to.equal('{"id":2}');
    expect(findMemberValue(text, [0, text.length], "missing")).to.equal(undefined);
    expect(findMemberValue("{}", [0, 2], "id")).to.equal(undefined);
  });

  it("replaces ranges given in text order, copying everything between them", () => {
    expect(replaceRanges("abcdef", [[[1, 2], "X"], [[3, 5], ""]])).to.equal("aXcf");
    expect(replaceRanges("abc", [])).to.equal("abc");
    expect(replaceRanges("abc", [[[0, 3], "xyz"]])).to.equal("xyz");
  });
});
