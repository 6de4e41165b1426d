/** What the sign-in form shows for one authorization request. */
export interface LoginPageContent {
  /** Where the form posts to: the interaction's own URL. */
  readonly action: string;
  readonly clientId: string;
  readonly requestedScopes: readonly string[];
  /** A username to prefill after a failed attempt. */
  readonly username?: string;
  readonly failed?: boolean;
}

/**
 * Escapes text for an HTML element body or a double-quoted attribute value.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/**
 * Renders the username/password form of the demo realm. The headless test login posts exactly the
 * fields `username` and `password` to the form's `action`, so those names are part of its contract.
 */
export function renderLoginPage(content: LoginPageContent): string {
  const scopes = content.requestedScopes.length === 0 ? "(none)" : content.requestedScopes.join(" ");
  const failure = content.failed ? `<p class="error">Invalid username or password.</p>` : "";
  return renderPage(
    "Sign in to mcp",
    `<h1>Sign in to realm <code>mcp</code></h1>
<p><code>${escapeHtml(content.clientId)}</code> asks for <code>${escapeHtml(scopes)}</code>.</p>
${failure}
<form method="post" action="${escapeHtml(content.action)}">
  <label>Username <input name="username" autocomplete="username" value="${escapeHtml(content.username ?? "")}" autofocus required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in</button>
</form>`,
  );
}

/**
 * Renders an error page (an expired sign-in, an authorization request the server refused).
 */
export function renderErrorPage(title: string, detail: string): string {
  return renderPage(title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(detail)}</p>`);
}

function renderPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin:.75rem 0}input{display:block;width:100%;padding:.4rem;box-sizing:border-box}
button{padding:.5rem 1.5rem}.error{color:#b00020}
</style>
</head>
<body>
${body}
</body>
</html>
`;
}
