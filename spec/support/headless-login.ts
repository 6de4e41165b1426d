/** The person a headless sign-in acts as. */
export interface LoginCredentials {
  readonly username: string;
  readonly password: string;
}

/** The authorization response delivered to the client's redirect URI (RFC 6749 §4.1.2). */
export interface AuthorizationResponse {
  readonly code: string;
  readonly state: string | undefined;
  /** The full redirect, as a browser would have opened it. */
  readonly redirectUrl: URL;
}

const MAX_HOPS = 10;

/**
 * Plays the browser of an authorization code flow against the demo authorization server or
 * Keycloak: follows redirects with a cookie jar of its own (so every call is a fresh browser, and a
 * new sign-in), posts the credentials to the sign-in form, says yes on a consent page, and stops at
 * the redirect to the client's `redirect_uri`, which it does not fetch. Rejects with the OAuth error when the server answers
 * with one, and when the credentials are refused.
 */
export async function loginHeadlessly(authorizationUrl: URL | string, credentials: LoginCredentials): Promise<AuthorizationResponse> {
  const start = new URL(authorizationUrl);
  const redirectUri = start.searchParams.get("redirect_uri");
  if (redirectUri === null) throw new Error("the authorization URL has no redirect_uri");
  const cookies = new Map<string, string>();
  let request: { url: URL; init: RequestInit } = { url: start, init: { method: "GET" } };
  let signedIn = false;
  let consented = false;

  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    const response = await fetch(request.url, {
      ...request.init,
      redirect: "manual",
      headers: { ...(request.init.headers as Record<string, string>), cookie: formatCookies(cookies) },
    });
    storeCookies(cookies, response.headers.getSetCookie());
    const location = response.headers.get("location");
    if (location !== null) {
      await response.body?.cancel();
      const next = new URL(location, request.url);
      if (isRedirectTo(next, redirectUri)) return readAuthorizationResponse(next);
      request = { url: next, init: { method: "GET" } };
      continue;
    }
    const form = readFirstForm(await response.text());
    let fields: Record<string, string>;
    if (form?.hasPassword === true && !signedIn) {
      signedIn = true;
      fields = { ...form.hiddenFields, username: credentials.username, password: credentials.password };
    } else if (form?.hasAcceptButton === true && signedIn && !consented) {
      // Keycloak's consent page (clients registered through the Consent Required policy): "Yes".
      consented = true;
      fields = { ...form.hiddenFields, accept: "" };
    } else {
      throw new Error(`sign-in as ${credentials.username} did not complete: HTTP ${response.status} at ${request.url.pathname}`);
    }
    request = {
      url: new URL(form.action, request.url),
      init: { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() },
    };
  }
  throw new Error(`sign-in as ${credentials.username} took more than ${MAX_HOPS} redirects`);
}

/** The first form of a page: where it posts, its hidden fields, and what kind of form it is. */
interface PageForm {
  readonly action: string;
  readonly hiddenFields: Record<string, string>;
  readonly hasPassword: boolean;
  readonly hasAcceptButton: boolean;
}

function readFirstForm(page: string): PageForm | undefined {
  const form = /<form\b[^>]*>[\s\S]*?<\/form>/i.exec(page)?.[0];
  const action = form === undefined ? undefined : /^<form\b[^>]*\baction="([^"]+)"/i.exec(form)?.[1];
  if (form === undefined || action === undefined) return undefined;
  const hiddenFields: Record<string, string> = {};
  for (const [input] of form.matchAll(/<input\b[^>]*>/gi)) {
    const name = /\bname="([^"]*)"/i.exec(input)?.[1];
    if (name !== undefined && /\btype="hidden"/i.test(input)) hiddenFields[name] = decodeHtmlAttribute(/\bvalue="([^"]*)"/i.exec(input)?.[1] ?? "");
  }
  return {
    action: decodeHtmlAttribute(action),
    hiddenFields,
    hasPassword: /<input\b[^>]*\btype="password"/i.test(form),
    hasAcceptButton: /<(?:button|input)\b[^>]*\bname="accept"/i.test(form),
  };
}

function isRedirectTo(url: URL, redirectUri: string): boolean {
  const target = new URL(redirectUri);
  return url.origin === target.origin && url.pathname === target.pathname;
}

function readAuthorizationResponse(redirectUrl: URL): AuthorizationResponse {
  const error = redirectUrl.searchParams.get("error");
  if (error !== null) {
    throw new Error(`authorization failed: ${error} (${redirectUrl.searchParams.get("error_description") ?? "no description"})`);
  }
  const code = redirectUrl.searchParams.get("code");
  if (code === null) throw new Error("the redirect to the client carries neither a code nor an error");
  return { code, state: redirectUrl.searchParams.get("state") ?? undefined, redirectUrl };
}

function storeCookies(cookies: Map<string, string>, setCookieHeaders: readonly string[]): void {
  for (const header of setCookieHeaders) {
    const [pair = ""] = header.split(";");
    const separator = pair.indexOf("=");
    if (separator <= 0) continue;
    const name = pair.slice(0, separator).trim();
    const value = pair.slice(separator + 1).trim();
    // An expired cookie is how a server deletes one.
    if (value === "" || /;\s*expires=Thu, 01 Jan 1970/i.test(header)) cookies.delete(name);
    else cookies.set(name, value);
  }
}

function formatCookies(cookies: ReadonlyMap<string, string>): string {
  return [...cookies].map(([name, value]) => `${name}=${value}`).join("; ");
}

function decodeHtmlAttribute(value: string): string {
  return value.replace(/&#(\d+);/g, (_match, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, "&");
}
