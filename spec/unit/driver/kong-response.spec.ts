import { expect } from "chai";
import {
  buildErrorResponse,
  buildExitResponse,
  buildUnexpectedErrorResponse,
  responseTypeForAccept,
} from "../../../kong/driver/kong-response";
import { createLuaArray, createLuaTable, LuaError } from "../../../kong/driver/lua-values";

const noWarnings = (): void => undefined;

describe("Kong's own responses", () => {
  it("exit: sends a string body as is, adds Content-Length, turns '_' into '-' and repeats array values", () => {
    const headers = createLuaTable([["WWW_Authenticate", "Bearer"], ["Set-Cookie", createLuaArray(["a=1", "b=2"])]]);
    expect(buildExitResponse(401, "nope", headers, noWarnings)).to.deep.equal({
      status: 401,
      headers: [["WWW-Authenticate", "Bearer"], ["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"], ["Content-Length", "4"]],
      body: "nope",
    });
  });

  it("exit: JSON-encodes a table body with application/json; charset=utf-8 unless a Content-Type is given", () => {
    const response = buildExitResponse(200, createLuaTable([["a", "b/c"]]), undefined, noWarnings);
    expect(response.headers).to.deep.equal([["Content-Type", "application/json; charset=utf-8"], ["Content-Length", "12"]]);
    expect(response.body).to.equal('{"a":"b\\/c"}');
  });

  it("exit: raises like Kong for a bad status, body or header value", () => {
    expect(() => buildExitResponse("401", undefined, undefined, noWarnings)).to.throw(LuaError, "code must be a number");
    expect(() => buildExitResponse(600, undefined, undefined, noWarnings)).to.throw(LuaError, "between 100 and 599");
    expect(() => buildExitResponse(200, 5, undefined, noWarnings)).to.throw(LuaError, "body must be a nil, string or table");
    expect(() => buildExitResponse(200, "", createLuaTable([["X", createLuaArray(["a", 1])]]), noWarnings)).to.throw(
      LuaError,
      'invalid header value in array "X": got number, expected string',
    );
  });

  it("exit: ignores Transfer-Encoding with Kong's warning", () => {
    const warnings: string[] = [];
    const response = buildExitResponse(200, "", createLuaTable([["Transfer-Encoding", "chunked"]]), (message) => warnings.push(message));
    expect(response.headers).to.deep.equal([["Content-Length", "0"]]);
    expect(warnings).to.deep.equal(["manually setting Transfer-Encoding. Ignored."]);
  });

  it("error: fills Kong's JSON template verbatim, with the request id", () => {
    const response = buildErrorResponse(403, "Forbidden here", undefined, { headers: [], requestId: "abc" }, noWarnings);
    expect(response.body).to.equal('{\n  "message":"Forbidden here",\n  "request_id":"abc"\n}');
    expect(response.headers[0]).to.deep.equal(["Content-Type", "application/json; charset=utf-8"]);
  });

  it("error: negotiates the template from Accept and defaults the message from the status", () => {
    const response = buildErrorResponse(404, undefined, undefined, { headers: [["Accept", "text/plain"]], requestId: "r" }, noWarnings);
    expect(response.body).to.equal("Not found\nrequest_id: r\n");
    expect(responseTypeForAccept("text/html;q=0.5, application/xml")).to.equal("application/xml; charset=utf-8");
    expect(responseTypeForAccept("image/png")).to.equal("application/json; charset=utf-8");
    expect(responseTypeForAccept(undefined)).to.equal("application/json; charset=utf-8");
  });

  it("the 500 of a plugin that raised", () => {
    expect(buildUnexpectedErrorResponse().body).to.equal('{"message":"An unexpected error occurred"}');
  });
});
