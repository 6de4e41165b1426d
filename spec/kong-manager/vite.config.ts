import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// A production build served by a static server in the test: no dev server, no HMR websocket.
export default defineConfig({
  plugins: [vue()],
  logLevel: "warn",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 20_000, reportCompressedSize: false },
});
