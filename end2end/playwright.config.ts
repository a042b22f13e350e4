import { defineConfig } from '@playwright/test';

// The hub binary is the release build scripts/run.sh serves
// (scripts/build-release.sh, run by scripts/test.sh); Playwright starts it
// and waits for its health endpoint.
import { chromiumArgs, chromiumPath, server, site } from './tests/servers';
const port = Number(process.env.E2E_PORT ?? 3100);
export const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    baseURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromiumPath,
      args: chromiumArgs,
    },
  },
  webServer: {
    command: `${server} --addr 127.0.0.1:${port} --site-root ${site} --demo true --presence-topics 'news,demo.*' --log warn`,
    url: `${baseURL}/api/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
