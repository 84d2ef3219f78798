import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// The server under test: the real binary, a fresh SQLite file per run, no demo traffic.
// `.ci/test` builds the binary and the site before this runs.
const port = Number(process.env.KEYSTILE_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
const workspace = resolve(__dirname, "..");
const targetDir = process.env.CARGO_TARGET_DIR ?? join(workspace, "target");
// Set once in the main process; workers inherit it, so tests can reach the same database
// (the operator journey creates its admin with `keystile create-operator`).
process.env.KEYSTILE_E2E_DATABASE ??= join(mkdtempSync(join(tmpdir(), "keystile-e2e-")), "keystile.db");
const database = process.env.KEYSTILE_E2E_DATABASE;
process.env.KEYSTILE_E2E_BINARY = join(targetDir, "debug", "keystile");

// Debian's Chromium; Playwright never downloads a browser here.
const chromium = {
  browserName: "chromium" as const,
  launchOptions: {
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  },
};

function clientAddress(address: string) {
  return { "X-Forwarded-For": address };
}

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: { baseURL, trace: "retain-on-failure", screenshot: "only-on-failure" },
  // Each project is a different client behind a trusted proxy (`X-Forwarded-For`), as browsers
  // behind a load balancer are: the two runs then have a login throttle budget each (30 attempts
  // an hour per address) instead of sharing 127.0.0.1's.
  projects: [
    { name: "hydrated", use: { ...chromium, javaScriptEnabled: true, extraHTTPHeaders: clientAddress("198.51.100.1") } },
    { name: "no-javascript", use: { ...chromium, javaScriptEnabled: false, extraHTTPHeaders: clientAddress("198.51.100.2") } },
  ],
  webServer: {
    command: process.env.KEYSTILE_E2E_BINARY,
    cwd: workspace,
    url: `${baseURL}/healthz`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    env: {
      KEYSTILE_LISTEN: `127.0.0.1:${port}`,
      KEYSTILE_PUBLIC_URL: baseURL,
      DATABASE_URL: `sqlite://${database}`,
      KEYSTILE_DEMO: "false",
      KEYSTILE_TRUSTED_PROXIES: "127.0.0.1",
      KEYSTILE_SITE_ROOT: join(workspace, "target", "site"),
      RUST_LOG: "warn",
    },
  },
});
