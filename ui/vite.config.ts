/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

// The Tauri shell loads `dist/` from disk (relative paths) in release builds and the dev server
// on a fixed port in development. Nothing is fetched from outside: no CDN, no remote fonts.
export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  base: './',
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: ['es2021', 'chrome105', 'safari15'],
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: false,
    // The theme's contrast test reads app.css (`?raw`); other CSS stays out of the tests.
    css: { include: [/app\.css/] },
  },
});
