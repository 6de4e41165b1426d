import { expect } from "chai";
import { escapeHtml, renderErrorPage, renderLoginPage } from "../../demo/login-page";

describe("login-page", () => {
  it("escapes markup and both quote characters", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).to.equal("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  });

  it("posts username and password to the interaction and escapes what the client chose", () => {
    const page = renderLoginPage({ action: "/realms/mcp/login-actions/authenticate/u1", clientId: "<script>", requestedScopes: ["mcp:tools"] });
    expect(page).to.include(`<form method="post" action="/realms/mcp/login-actions/authenticate/u1">`);
    expect(page).to.include(`name="username"`).and.to.include(`name="password"`);
    expect(page).to.include("&#60;script&#62;").and.not.to.include("<script>");
    expect(page).not.to.include("Invalid username or password");
  });

  it("tells a refused attempt apart and keeps the username", () => {
    const page = renderLoginPage({ action: "/x", clientId: "c", requestedScopes: [], username: "member", failed: true });
    expect(page).to.include("Invalid username or password.").and.to.include(`value="member"`);
    expect(renderErrorPage("Sign-in expired", "again")).to.include("<h1>Sign-in expired</h1>");
  });
});
