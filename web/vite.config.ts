/**
 * The console's build (`vite build --config web/vite.config.ts`, run by scripts/ensure-build.js):
 * web/ in, dist/console/ out, served by the gateway at /console/ (src/http/console.ts).
 * No React plugin: esbuild compiles the JSX (react-jsx), which is all a production build needs.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: webRoot,
  base: '/console/',
  // No public/ folder: every file the page loads is built and hashed.
  publicDir: false,
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    // The console's CSP has no 'unsafe-inline': keep every script and style a file (no inlined assets as data: scripts).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      // TanStack Query marks its modules "use client" for server-rendering frameworks; meaningless in a browser bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  logLevel: 'warn',
});
