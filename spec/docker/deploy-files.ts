import { readFileSync } from "node:fs";
import { join } from "node:path";
import type ClientScopeRepresentation from "@keycloak/keycloak-admin-client/lib/defs/clientScopeRepresentation.js";
import type ProtocolMapperRepresentation from "@keycloak/keycloak-admin-client/lib/defs/protocolMapperRepresentation.js";
import { parse } from "yaml";
import { SEED_REALM as KEYCLOAK_REALM } from "../../kong/keycloak/seed-realm";

export { KEYCLOAK_REALM };

/** The repository root, where docker-compose.yml lives. */
export const REPOSITORY_ROOT = join(__dirname, "..", "..");

/** The realm's client scopes that carry a mapper of type `protocolMapper` (e.g. oidc-audience-mapper). */
export function findScopesWithMapper(protocolMapper: string): { scope: ClientScopeRepresentation; mapper: ProtocolMapperRepresentation }[] {
  return (KEYCLOAK_REALM.clientScopes ?? []).flatMap((scope) =>
    (scope.protocolMappers ?? []).filter((mapper) => mapper.protocolMapper === protocolMapper).map((mapper) => ({ scope, mapper })),
  );
}

export interface KongPlugin {
  name: string;
  config: Record<string, unknown>;
}

export interface KongRoute {
  name: string;
  paths: string[];
  plugins?: KongPlugin[];
}

export interface KongService {
  name: string;
  url: string;
  routes: KongRoute[];
}

export interface KongDeclarativeConfig {
  _format_version: string;
  services: KongService[];
}

export interface ComposeService {
  image?: string;
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
}

function readRepositoryFile(relativePath: string): string {
  return readFileSync(join(REPOSITORY_ROOT, relativePath), "utf8");
}

/** kong/kong.yml, parsed. */
export function readKongDeclarativeConfig(): KongDeclarativeConfig {
  return parse(readRepositoryFile("kong/kong.yml")) as KongDeclarativeConfig;
}

/** docker-compose.yml, parsed (no interpolation: the file uses none). */
export function readComposeFile(): ComposeFile {
  return parse(readRepositoryFile("docker-compose.yml")) as ComposeFile;
}

/** kong/kong.conf as Kong reads it: `name = value` lines, `#` comments ignored. */
export function readKongConf(): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of readRepositoryFile("kong/kong.conf").split("\n")) {
    const match = /^\s*([a-z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) settings.set(match[1]!, match[2]!);
  }
  return settings;
}

/** The one route that kong.yml protects with mcp-oauth2, and its plugins by name. */
export function findProtectedRoute(config: KongDeclarativeConfig): { service: KongService; route: KongRoute; plugins: Map<string, KongPlugin> } {
  for (const service of config.services) {
    for (const route of service.routes) {
      const plugins = new Map((route.plugins ?? []).map((plugin) => [plugin.name, plugin]));
      if (plugins.has("mcp-oauth2")) return { service, route, plugins };
    }
  }
  throw new Error("kong/kong.yml has no route with the mcp-oauth2 plugin");
}
