import { defineConfig } from "@playwright/test";

/** The web app: in CI, served by `latchkey serve` beside the API (one origin); by hand, vite preview. */
const WEB_URL = process.env.WEB_URL ?? "http://127.0.0.1:4173";

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results/artifacts",
  timeout: 180_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: Number(process.env.E2E_WORKERS ?? 2),
  retries: 0,
  reporter: [["list"], ["html", { outputFolder: "test-results/report", open: "never" }]],
  use: {
    baseURL: WEB_URL,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic",
      ],
    },
  },
  webServer: {
    // .ci/web starts the preview itself; this is for `npx playwright test` by hand.
    command: "npm run preview",
    url: WEB_URL,
    reuseExistingServer: true,
    timeout: 60_000,
  },
});
