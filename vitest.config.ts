import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // e2e files start servers and render images: two at a time fits a 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
