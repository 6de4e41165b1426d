export { KongDriver, type KongDriverOptions } from "./kong-driver";
export type { KongGateway, GatewayOptions } from "./gateway";
export { formatHttpOrigin } from "./gateway";
export type { KongRequest } from "./kong-request";
export type { HeaderList } from "./header-list";
export type { Outcome, ExitOutcome, ProceedOutcome, UpstreamRequest } from "./outcome";
export { NATIVE_GUARD_BODY, VERIFIED_CONTEXT_KEY } from "./outcome";
export type { FailOpen, PdkCall } from "./event-bridge";
export type { LogEntry, LogLevel } from "./kong-pdk-emulation";
export { UnemulatedPdkMethodError } from "./kong-pdk-emulation";
export type { InstanceEvent } from "./plugin-instances";
export type { RouteDefinition, PluginConfiguration } from "./route-table";
export { queryPluginDump, PluginDumpError, type PluginInfo, type PluginSchema } from "./plugin-dump";
export { applySchemaDefaults, SchemaViolationError, type SchemaField, type SchemaViolation } from "./schema-defaults";
export { normalizePath } from "./path-normalization";
export {
  buildPluginServerCommands,
  builtPluginsDirectory,
  findProjectRoot,
  ourPluginServerEntry,
  startPluginServerDriver,
  stockPluginServerEntry,
  type PluginServerCommands,
  type PluginServerDriver,
  type PluginServerDriverOptions,
  type PluginServerImplementation,
} from "./plugin-server-commands";
