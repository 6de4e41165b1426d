import { expect } from "chai";
import { findFoldedMemberName, foldMemberName } from "../../plugins/mcp-oauth2/core/member-name-folding";

const STRUCTURAL = new Set(["method", "params", "name"]);

describe("member-name-folding", () => {
  it("folds case, the long s, the Kelvin sign, dotless and dotted i, NUL, ignorable and compatibility characters", () => {
    expect(foldMemberName("METHOD")).to.equal("method");
    expect(foldMemberName("param\u017f")).to.equal("params");
    expect(foldMemberName("\u212aind")).to.equal("kind");
    expect(foldMemberName("\u0131d")).to.equal("id");
    expect(foldMemberName("ur\u0130")).to.equal("uri");
    expect(foldMemberName("name\u0000")).to.equal("name");
    expect(foldMemberName("na\u200bme\ufeff")).to.equal("name");
    expect(foldMemberName("\uff4e\uff41\uff4d\uff45")).to.equal("name");
  });

  it("leaves other characters as they are", () => {
    expect(foldMemberName("m\u00e9thode")).to.equal("m\u00e9thode");
    expect(foldMemberName("na_me")).to.equal("na_me");
  });

  it("finds a member folding onto a structural name or onto another member, never an exact structural name", () => {
    expect(findFoldedMemberName({ method: 1, params: 2, name: 3, other: 4 }, STRUCTURAL)).to.equal(undefined);
    expect(findFoldedMemberName({ Method: 1 }, STRUCTURAL)).to.equal("Method");
    expect(findFoldedMemberName({ method: 1, METHOD: 2 }, STRUCTURAL)).to.equal("METHOD");
    expect(findFoldedMemberName({ kind: 1, KIND: 2 }, STRUCTURAL)).to.equal("KIND");
    expect(findFoldedMemberName({ Kind: 1 }, STRUCTURAL)).to.equal(undefined);
  });
});
