import { defineConfig } from 'vitest/config';

// End-to-end tests: the built app in Debian's Chromium (playwright-core), WebGPU on SwiftShader.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.test.ts'],
    globalSetup: ['e2e/support/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 180_000,
    reporters: ['verbose'],
  },
});
