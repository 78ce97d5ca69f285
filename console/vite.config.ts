/**
 * Builds the browser console into console/dist: index.html plus hashed files flat in dist/assets/.
 * The page is served at `<apiRoot>console` (no trailing slash), so index.html names its assets
 * `console/assets/<file>`, which resolves to `<apiRoot>console/assets/<file>` under any stage prefix.
 *
 *   npx vite build --config console/vite.config.ts
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  // No public/ folder: nothing is copied besides what the build emits.
  publicDir: false,
  clearScreen: false,
  resolve: {
    alias: {
      // cli/src/input.ts imports Node's build of csv-parse; the browser build has the same API.
      'csv-parse/sync': 'csv-parse/browser/esm/sync',
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // Everything in files (the CSP allows no inline script or style), including small assets.
    assetsInlineLimit: 0,
    // The polyfill would be an inline script; every supported browser has modulepreload.
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  experimental: {
    renderBuiltUrl(filename, { hostType }) {
      return hostType === 'html' ? `console/${filename}` : { relative: true };
    },
  },
});
