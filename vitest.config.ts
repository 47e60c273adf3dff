import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Loads tfjs-core's gradient registrations (an ES-module tree with extension-less imports) in Node.
    setupFiles: ['src/node/register-hooks.mjs'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
