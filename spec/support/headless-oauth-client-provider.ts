import { randomUUID } from "node:crypto";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { loginHeadlessly, type LoginCredentials } from "./headless-login";

/** How a {@link HeadlessOAuthClientProvider} registers and whom it signs in as. */
export interface HeadlessOAuthClientProviderOptions {
  /**
   * Chooses who signs in, once per authorization request: the member first and the admin for the
   * step-up, say. Receives the authorization URL, whose `scope` says what is being asked for.
   */
  readonly signInAs: (authorizationUrl: URL) => LoginCredentials;
  /** The client's redirect URI. Nothing needs to listen there: the headless sign-in stops at the redirect. */
  readonly redirectUrl?: string;
  /** Overrides of the metadata sent to dynamic client registration. */
  readonly clientMetadata?: Partial<OAuthClientMetadata>;
  /** Client information to use instead of registering (the static public client `mcp-client`, say). */
  readonly clientInformation?: OAuthClientInformationMixed;
  /**
   * Forget refresh tokens, as clients that start a new authorization for a step-up do (VS Code):
   * the SDK refreshes instead when it holds one, which Keycloak answers with the same scopes.
   */
  readonly discardRefreshTokens?: boolean;
}

/**
 * An MCP SDK OAuth client provider for tests, kept in memory. When the SDK sends the user to the
 * authorization server, it signs in headlessly at once and holds the authorization code until
 * {@link takeAuthorizationCode}; the SDK then throws `UnauthorizedError`, and the caller passes the
 * code to `transport.finishAuth(code)` (or `auth(provider, { authorizationCode })`) and retries.
 */
export class HeadlessOAuthClientProvider implements OAuthClientProvider {
  /** Every authorization URL the SDK opened, oldest first. */
  readonly authorizationUrls: URL[] = [];
  /** Every token response saved, oldest first. */
  readonly savedTokens: OAuthTokens[] = [];
  private registeredClient: OAuthClientInformationMixed | undefined;
  private currentTokens: OAuthTokens | undefined;
  private verifier: string | undefined;
  private pendingState: string | undefined;
  private pendingCode: string | undefined;

  constructor(private readonly options: HeadlessOAuthClientProviderOptions) {
    this.registeredClient = options.clientInformation;
  }

  get redirectUrl(): string {
    return this.options.redirectUrl ?? "http://127.0.0.1:8976/callback";
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "mcp-oauth2 test client",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      ...this.options.clientMetadata,
    };
  }

  state(): string {
    this.pendingState = randomUUID();
    return this.pendingState;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.registeredClient;
  }

  saveClientInformation(clientInformation: OAuthClientInformationMixed): void {
    this.registeredClient = clientInformation;
  }

  tokens(): OAuthTokens | undefined {
    return this.currentTokens;
  }

  saveTokens(received: OAuthTokens): void {
    const { refresh_token: refreshToken, ...withoutRefreshToken } = received;
    const tokens = this.options.discardRefreshTokens === true || refreshToken === undefined ? withoutRefreshToken : received;
    this.currentTokens = tokens;
    this.savedTokens.push(tokens);
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.verifier = codeVerifier;
  }

  codeVerifier(): string {
    if (this.verifier === undefined) throw new Error("no authorization has been started");
    return this.verifier;
  }

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    this.authorizationUrls.push(authorizationUrl);
    const response = await loginHeadlessly(authorizationUrl, this.options.signInAs(authorizationUrl));
    // RFC 6749 §10.12: the state binds the response to the request this client made.
    if (response.state !== this.pendingState) throw new Error("the authorization response carries another request's state");
    this.pendingCode = response.code;
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    if (scope === "all" || scope === "client") this.registeredClient = undefined;
    if (scope === "all" || scope === "tokens") this.currentTokens = undefined;
    if (scope === "all" || scope === "verifier") this.verifier = undefined;
  }

  /** Hands over the code of the last sign-in, once. */
  takeAuthorizationCode(): string {
    const code = this.pendingCode;
    if (code === undefined) throw new Error("no sign-in has completed since the last code was taken");
    this.pendingCode = undefined;
    return code;
  }
}

/**
 * Connects `client` to `url` as an MCP client does from a cold start: the first attempt meets the
 * 401, and the SDK discovers the metadata, registers and signs in through `provider`; the code is
 * then exchanged and a new transport connects with the token (a failed connect closes its
 * transport). Resolves to the transport in use.
 */
export async function connectWithHeadlessLogin(client: Client, url: URL, provider: HeadlessOAuthClientProvider): Promise<StreamableHTTPClientTransport> {
  const firstAttempt = new StreamableHTTPClientTransport(url, { authProvider: provider });
  try {
    await client.connect(firstAttempt);
    return firstAttempt;
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  await firstAttempt.finishAuth(provider.takeAuthorizationCode());
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await client.connect(transport);
  return transport;
}

/**
 * Runs `call`; when the SDK meets a 403 insufficient_scope it signs in again for the challenge's
 * scope and throws UnauthorizedError: the code is exchanged and `call` runs once more.
 */
export async function callWithStepUp<T>(transport: StreamableHTTPClientTransport, provider: HeadlessOAuthClientProvider, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  await transport.finishAuth(provider.takeAuthorizationCode());
  return call();
}
