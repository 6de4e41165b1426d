// Routes as the driver's small Kong knows them: prefix paths (Kong's traditional router: plain
// string prefix on the normalized path, longest wins), an upstream, and the plugin configured on the
// route, with the config Kong would send to StartInstance (plugins_iterator.lua get_plugin_config).
import type { PluginInfo } from "./plugin-dump";
import { applySchemaDefaults } from "./schema-defaults";

/** A plugin entity on a route. `config` is what an operator posts; Kong fills the defaults. */
export interface PluginConfiguration {
  /** The plugin entity id (Kong: a UUID); instances are kept per id. */
  id: string;
  /** Defaults to the plugin the first plugin server serves. */
  name?: string;
  config: Record<string, unknown>;
  instanceName?: string;
}

/** A route of the driver's Kong. */
export interface RouteDefinition {
  id: string;
  /** Prefixes, each starting with "/". Kong matches "/mcp" against "/mcp", "/mcp/x" and "/mcpx". */
  paths: readonly string[];
  /** Upstream base URL, e.g. "http://127.0.0.1:9000/mcp" (needed only to proxy through `listen`). */
  upstream?: string;
  /** Strip the matched prefix before proxying (Kong's default: true). */
  stripPath?: boolean;
  /** When set, the plugin config also carries service_id (a plugin scoped to route and service). */
  serviceId?: string;
  /** At most one entity per plugin: Kong 3.9 serves one plugin per plugin server. */
  plugins?: readonly PluginConfiguration[];
}

/** A plugin ready to run: the JSON Kong sends in StartInstance and the sequence that versions it. */
export interface ConfiguredPlugin {
  id: string;
  name: string;
  seq: number;
  configJson: string;
  /** The plugin server serving it, by position (0: the first). */
  server: number;
}

/** A route after configuration. */
export interface ConfiguredRoute {
  definition: RouteDefinition;
  stripPath: boolean;
  /** In the order Kong runs them: by descending priority. */
  plugins: readonly ConfiguredPlugin[];
}

/** A route matched by a request path. */
export interface RouteMatch {
  route: ConfiguredRoute;
  matchedPath: string;
}

/** Kong's default workspace, as the driver presents it. */
const DEFAULT_WORKSPACE_ID = "00000000-0000-4000-8000-000000000000";

function configurePlugin(route: RouteDefinition, entity: PluginConfiguration, served: readonly PluginInfo[], seq: number): ConfiguredPlugin {
  const name = entity.name ?? (served[0] as PluginInfo).Name;
  const server = served.findIndex((plugin) => plugin.Name === name);
  if (server === -1) {
    throw new Error(`route ${route.id}: plugin "${name}" is not served by any plugin server (they serve ${served.map((plugin) => `"${plugin.Name}"`).join(", ")})`);
  }
  const config: Record<string, unknown> = {
    ...applySchemaDefaults((served[server] as PluginInfo).Schema, entity.config),
    route_id: route.id,
    service_id: route.serviceId,
    plugin_instance_name: entity.instanceName,
    __plugin_id: entity.id,
    __ws_id: DEFAULT_WORKSPACE_ID,
    __key__: `plugins:${name}:${route.id}:${route.serviceId ?? ""}:::${DEFAULT_WORKSPACE_ID}`,
    __seq__: seq,
  };
  return { id: entity.id, name, seq, configJson: JSON.stringify(config), server };
}

/** The routes of one configuration. */
export class RouteTable {
  private constructor(private readonly routes: readonly ConfiguredRoute[]) {}

  /**
   * Checks and configures routes. Every plugin gets a new sequence number from `nextSeq`, as every
   * configuration change rebuilds Kong's plugins iterator (so every instance is restarted lazily).
   * Throws SchemaViolationError for an invalid plugin config.
   */
  static configure(definitions: readonly RouteDefinition[], served: readonly PluginInfo[], nextSeq: () => number): RouteTable {
    const ids = new Set<string>();
    const routes = definitions.map((definition): ConfiguredRoute => {
      if (ids.has(definition.id)) throw new Error(`route id ${definition.id} is used twice`);
      ids.add(definition.id);
      for (const path of definition.paths) {
        if (!path.startsWith("/")) throw new Error(`route ${definition.id}: path "${path}" must start with "/"`);
      }
      const plugins = (definition.plugins ?? []).map((entity) => configurePlugin(definition, entity, served, nextSeq()));
      if (new Set(plugins.map((plugin) => plugin.name)).size < plugins.length) throw new Error(`route ${definition.id}: a plugin is configured twice`);
      const priority = (plugin: ConfiguredPlugin) => (served[plugin.server] as PluginInfo).Priority;
      // Kong's handler order (kong/db/dao/plugins.lua): priority, highest first; ties by name, descending.
      return { definition, stripPath: definition.stripPath ?? true, plugins: plugins.sort((a, b) => priority(b) - priority(a) || (a.name > b.name ? -1 : 1)) };
    });
    return new RouteTable(routes);
  }

  /** The route whose longest path is a prefix of the normalized request path. */
  match(normalizedPath: string): RouteMatch | undefined {
    let best: RouteMatch | undefined;
    for (const route of this.routes) {
      for (const path of route.definition.paths) {
        if (normalizedPath.startsWith(path) && (best === undefined || path.length > best.matchedPath.length)) {
          best = { route, matchedPath: path };
        }
      }
    }
    return best;
  }
}
