// The one route the driver and plugin-server suites put the echo test plugin on.
import type { KongDriver } from "../../kong/driver";
import { echoConfig, type EchoStep } from "../support/test-plugins";

/** Routes every path through the echo plugin running `steps` (see echoConfig for the options). */
export function routeToEcho(driver: KongDriver, steps: readonly EchoStep[], options: Parameters<typeof echoConfig>[1] = {}): void {
  driver.configureRoutes([{ id: "echo-route", paths: ["/"], plugins: [{ id: "echo-plugin", config: echoConfig(steps, options) }] }]);
}
