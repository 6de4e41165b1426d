// kong-pdk 0.6.0's kong-js-pluginserver resolves each plugin with require.resolve(join(dir, entry)),
// which treats a relative `-d dist/plugins` as a package name and fails. Linking node_modules/dist to
// dist makes `node_modules/.bin/kong-js-pluginserver -d dist/plugins --dump-all-plugins`, run from
// the project root, find the build as well. Kong itself is configured with absolute paths, and our
// plugin server resolves a relative -d against the working directory.
import { lstatSync, symlinkSync } from "node:fs";
import { join } from "node:path";

const root = join(__dirname, "..", "..");
const link = join(root, "node_modules", "dist");

try {
  lstatSync(link);
} catch {
  symlinkSync(join("..", "dist"), link, "dir");
}
