export { KongDriver, type KongDriverOptions, type UpstreamCall } from "./kong-driver";
export type { ConsumerEntity } from "./client-consumers";
export type { PluginServerSettings } from "./plugin-server-connection";
export type { KongGateway, GatewayOptions } from "./gateway";
export { formatHttpOrigin } from "./gateway";
export type { KongRequest } from "./kong-request";
export type { HeaderList } from "./header-list";
export type { Outcome, ExitOutcome, ProceedOutcome, UpstreamRequest, BufferedProxyResponse } from "./outcome";
export { NATIVE_GUARD_BODY, NATIVE_LIST_GUARD_BODY, VERIFIED_CONTEXT_KEY } from "./outcome";
export type { FailOpen, PdkCall } from "./event-bridge";
export type { LogEntry, LogLevel, ServiceResponse } from "./kong-pdk-emulation";
export { UnemulatedPdkMethodError } from "./kong-pdk-emulation";
export type { InstanceEvent } from "./plugin-instances";
export type { RouteDefinition, PluginConfiguration } from "./route-table";
export { queryPluginDump, PluginDumpError, type PluginInfo, type PluginSchema } from "./plugin-dump";
export { applySchemaDefaults, processField, type PatternRule, type Processed, type SchemaField } from "./schema-defaults";
export { SchemaViolationError, type FieldErrors, type FieldErrorTable } from "./schema-violation";
export { normalizePath } from "./path-normalization";
export { runAccessPhaseInProcess, type InProcessPhase, type InProcessPhaseOptions } from "./in-process-phase";
export {
  buildPluginServerCommands,
  builtListFilterPluginsDirectory,
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
