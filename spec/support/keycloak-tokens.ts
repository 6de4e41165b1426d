// Tokens from a real Keycloak as clients get them: the authorization code flow with PKCE through
// Keycloak's own login page (HTTP form handling), and client_credentials.
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { loginHeadlessly, type LoginCredentials } from "./headless-login";

/** A token endpoint's answer (RFC 6749 §5.1); id_token with `openid`, refresh_token for user logins. */
export interface TokenResponse {
  readonly access_token: string;
  readonly id_token?: string;
  readonly refresh_token?: string;
  readonly scope?: string;
}

const TIMEOUT_MS = 15_000;
/** Nothing listens there: the headless browser stops at the redirect. */
const REDIRECT_URI = "http://127.0.0.1:8976/callback";

/** POSTs a token request to the realm `issuer` and returns its tokens; Keycloak's error answer fails with its error code. */
export async function requestTokens(issuer: string, form: Record<string, string>): Promise<TokenResponse> {
  const response = await fetch(`${issuer}/protocol/openid-connect/token`, { method: "POST", body: new URLSearchParams(form), signal: AbortSignal.timeout(TIMEOUT_MS) });
  // The error body names the cause (invalid_grant, invalid_scope...) and holds no token.
  if (response.status !== 200) throw new Error(`Keycloak's token endpoint answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as TokenResponse;
}

/** client_credentials for a confidential client (scope: its default client scopes when absent). */
export function requestClientCredentials(issuer: string, clientId: string, clientSecret: string, scope?: string): Promise<TokenResponse> {
  return requestTokens(issuer, { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, ...(scope === undefined ? {} : { scope }) });
}

/**
 * The authorization code flow with PKCE S256 (RFC 7636) for the public client `clientId`, signing
 * `user` in on Keycloak's login page (and consenting when asked), then redeeming the code.
 */
export async function signInWithPkce(issuer: string, clientId: string, user: LoginCredentials, scope: string): Promise<TokenResponse> {
  const verifier = randomBytes(32).toString("base64url");
  const state = randomBytes(12).toString("base64url");
  const authorization = new URL(`${issuer}/protocol/openid-connect/auth`);
  authorization.search = new URLSearchParams({
    client_id: clientId,
    response_type: "code",
    redirect_uri: REDIRECT_URI,
    scope,
    state,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  const { code, state: returnedState } = await loginHeadlessly(authorization, user);
  if (returnedState !== state) throw new Error("Keycloak returned another request's state");
  return requestTokens(issuer, { grant_type: "authorization_code", client_id: clientId, code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
}

/**
 * client_credentials sent to 127.0.0.1 with another Host header, as a client reaching Keycloak by
 * another name would: Keycloak (no fixed hostname) writes that name into `iss`.
 */
export function requestClientCredentialsAs(host: string, issuer: string, clientId: string, clientSecret: string): Promise<TokenResponse> {
  const url = new URL(`${issuer}/protocol/openid-connect/token`);
  const body = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }).toString();
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: "POST", timeout: TIMEOUT_MS, headers: { host, "content-type": "application/x-www-form-urlencoded" } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (response.statusCode === 200) resolve(JSON.parse(text) as TokenResponse);
          else reject(new Error(`Keycloak's token endpoint answered ${response.statusCode}: ${text}`));
        });
      },
    );
    request.on("timeout", () => request.destroy(new Error("the token request timed out")));
    request.on("error", reject);
    request.end(body);
  });
}
