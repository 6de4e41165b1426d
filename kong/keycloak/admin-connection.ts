// A Keycloak Admin API client that logs in again before its token runs out: master-realm admin
// tokens live 60 seconds, shorter than a setup run on a slow server or a test suite.
import KeycloakAdminClient from "@keycloak/keycloak-admin-client";

/** Who calls the Admin API: a user of `realm` through `admin-cli`, or a confidential client's service account. */
export interface AdminLogin {
  /** Keycloak's base URL, e.g. `https://sso.example.com` (no `/realms/...`). */
  readonly baseUrl: string;
  /** The realm the admin belongs to (default `master`). */
  readonly realm?: string;
  readonly username?: string;
  readonly password?: string;
  /** With `clientSecret`: client_credentials instead of the password grant. */
  readonly clientId?: string;
  readonly clientSecret?: string;
}

/** A token is renewed when it has less than this left. */
const RENEW_BEFORE_EXPIRY_MS = 15_000;
const REQUEST_TIMEOUT_MS = 15_000;

async function requestAdminToken(login: AdminLogin): Promise<{ token: string; expiresAt: number }> {
  const form: Record<string, string> =
    login.clientSecret === undefined
      ? { grant_type: "password", client_id: login.clientId ?? "admin-cli", username: login.username ?? "", password: login.password ?? "" }
      : { grant_type: "client_credentials", client_id: login.clientId ?? "", client_secret: login.clientSecret };
  const tokenUrl = `${login.baseUrl}/realms/${encodeURIComponent(login.realm ?? "master")}/protocol/openid-connect/token`;
  const response = await fetch(tokenUrl, { method: "POST", body: new URLSearchParams(form), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  // Keycloak's error body names the cause (invalid_grant, unauthorized_client) and holds no secret.
  const body = (await response.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
  if (response.status !== 200 || typeof body.access_token !== "string") {
    const who = login.clientSecret === undefined ? `user ${login.username ?? ""}` : `client ${login.clientId ?? ""}`;
    throw new Error(`Keycloak refused the admin login of ${who} at ${tokenUrl}: HTTP ${response.status} ${String(body.error ?? "")} ${String(body.error_description ?? "")}`.trim());
  }
  const lifetimeMs = typeof body.expires_in === "number" ? body.expires_in * 1000 : 60_000;
  return { token: body.access_token, expiresAt: Date.now() + lifetimeMs };
}

/**
 * Logs in (failing at once when Keycloak refuses) and returns an admin client working on `targetRealm`.
 */
export async function connectKeycloakAdmin(login: AdminLogin, targetRealm: string): Promise<KeycloakAdminClient> {
  let current = await requestAdminToken(login);
  const client = new KeycloakAdminClient({ baseUrl: login.baseUrl, realmName: targetRealm, timeout: REQUEST_TIMEOUT_MS });
  client.registerTokenProvider({
    getAccessToken: async () => {
      if (current.expiresAt - Date.now() < RENEW_BEFORE_EXPIRY_MS) current = await requestAdminToken(login);
      return current.token;
    },
  });
  return client;
}
