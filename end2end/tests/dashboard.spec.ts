import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { awaitFreshMinute } from "./gauges";

// The customer's journey across the dashboard, with a screenshot of every page as a test
// artifact (end2end/test-results/…/<page>.png).

async function call(request: APIRequestContext, secret: string, times = 1): Promise<number[]> {
  const statuses = [];
  for (let i = 0; i < times; i++) {
    const response = await request.get("/v1/snapshots", { headers: { Authorization: `Bearer ${secret}` } });
    statuses.push(response.status());
  }
  return statuses;
}

async function navigate(page: Page, name: string) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
}

test("keys, live gauges and charts, rotation, revocation, billing and an upgrade", async ({ page, request, context }, testInfo) => {
  test.skip(testInfo.project.use.javaScriptEnabled === false, "live pages need JavaScript");
  test.setTimeout(120_000);
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const shot = (name: string) => page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });

  // The pages' Content-Security-Policy runs only this site's scripts and those carrying the
  // response's nonce; nothing the dashboard does on this journey is refused by it.
  const refusedByPolicy: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) refusedByPolicy.push(message.text());
  });
  const login = await page.goto("/login");
  expect(login!.headers()["content-security-policy"]).toMatch(/script-src 'self' 'nonce-[\w+/=-]{16,}' 'wasm-unsafe-eval'/);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await shot("login");
  await page.goto("/signup");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await shot("sign-up");
  await page.getByLabel("Email").fill(`journey-${Date.now()}@example.com`);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL("/");

  // A new account's empty states.
  await navigate(page, "Usage");
  await expect(page.getByRole("heading", { name: "No usage yet" })).toBeVisible();
  await shot("usage-empty");

  // Create a key and copy its secret.
  await navigate(page, "Keys");
  await page.getByLabel("Name").fill("Backend");
  await page.getByRole("button", { name: "Create key" }).click();
  const dialog = page.getByRole("dialog", { name: "Copy your new secret" });
  const secret = (await dialog.getByTestId("new-secret").textContent())!.trim();
  await dialog.getByRole("button", { name: "Copy" }).click();
  await expect(dialog.getByRole("status")).toHaveText("Copied");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  // The dialog says how to try the key (run below, once the usage counts are checked).
  const tryIt = dialog.getByTestId("try-the-key");
  await expect(tryIt).toHaveText(`curl -H "Authorization: Bearer $API_KEY" ${new URL(page.url()).origin}/v1/limits`);
  const tryUrl = (await tryIt.textContent())!.split(" ").pop()!;
  await dialog.getByRole("button", { name: "I have stored it" }).click();
  await shot("keys");
  // The page points to the API's description, which anyone may fetch.
  const described = await request.get((await page.getByRole("link", { name: "OpenAPI 3.1" }).getAttribute("href"))!);
  expect(described.status()).toBe(200);
  expect((await described.json()).paths["/v1/keys"]).toBeDefined();

  // The test calls the API with it; the overview's gauge follows without a reload.
  await navigate(page, "Overview");
  await page.getByLabel("Show").selectOption({ label: "Key: Backend" });
  await page.getByRole("button", { name: "Show", exact: true }).click();
  const reads = page.getByRole("region", { name: "Reads" });
  await expect(reads).toContainText("0 of 60 used");
  await expect(reads.locator("canvas")).toBeAttached();
  await awaitFreshMinute(reads);
  const loads = await page.evaluate(() => performance.getEntriesByType("navigation").length);
  expect(await call(request, secret, 4)).toEqual([200, 200, 200, 200]);
  await expect(reads).toContainText("4 of 60 used", { timeout: 3000 });
  await shot("overview");

  // The usage chart follows too.
  await navigate(page, "Usage");
  const lastHour = page.getByTestId("summary-minute");
  await expect(lastHour).toContainText("4 allowed", { timeout: 5000 });
  await expect(page.locator('[data-chart="minute"] canvas')).toBeAttached();
  expect(await call(request, secret, 2)).toEqual([200, 200]);
  await expect(lastHour).toContainText("6 allowed", { timeout: 5000 });
  await expect(page.getByRole("row", { name: /Backend/ })).toContainText("6");
  expect(await page.evaluate(() => performance.getEntriesByType("navigation").length)).toBe(loads);
  // A bar's tooltip (HTML that ECharts styles inline).
  const minuteChart = (await page.locator('[data-chart="minute"] canvas').boundingBox())!;
  await page.mouse.move(minuteChart.x + minuteChart.width * 0.97, minuteChart.y + minuteChart.height / 2);
  await expect(page.getByText(/^Allowed\s*6$/)).toBeVisible();
  await shot("usage");
  // The table's key name opens that key's own charts.
  await page.getByRole("row", { name: /Backend/ }).getByRole("link", { name: "Backend" }).click();
  await expect(page).toHaveURL(/\/usage\?key=key_/);
  await expect(page.getByLabel("Key")).toHaveValue(/^key_/);
  await expect(lastHour).toContainText("6 allowed");
  const tried = await request.get(tryUrl, { headers: { Authorization: `Bearer ${secret}` } });
  expect(tried.status()).toBe(200);
  expect(await tried.json()).toHaveProperty("buckets");

  // Rotate with an hour's grace: both secrets work, and the page says when the old one was last used.
  await navigate(page, "Keys");
  const row = page.getByRole("row", { name: /Backend/ });
  await row.getByText("Rotate…").click();
  await row.getByLabel("The old secret keeps working for").selectOption("1h");
  await row.getByRole("button", { name: "Rotate secret" }).click();
  const rotated = (await dialog.getByTestId("new-secret").textContent())!.trim();
  await dialog.getByRole("button", { name: "I have stored it" }).click();
  expect(await call(request, secret)).toEqual([200]);
  expect(await call(request, rotated)).toEqual([200]);
  await expect(row.getByText(/Old secret works until/)).toBeVisible();
  await shot("keys-rotating");

  // Revoke: both secrets are refused.
  await row.getByText("Revoke…").click();
  await row.getByLabel("Type Backend to confirm").fill("Backend");
  await row.getByRole("button", { name: "Revoke key" }).click();
  await expect(page.getByRole("row", { name: /Backend/ }).getByText("Revoked")).toBeVisible();
  expect(await call(request, secret)).toEqual([401]);
  expect(await call(request, rotated)).toEqual([401]);

  // Billing: this month priced, and a spend cap.
  await navigate(page, "Billing");
  await expect(page.getByText("How this is worked out")).toBeVisible();
  await page.getByLabel("Monthly cap (USD)").fill("250");
  await page.getByRole("button", { name: "Save spend cap" }).click();
  await expect(page.getByText("$250.00 a month")).toBeVisible();
  await shot("billing");

  // Upgrade: the monthly gauge's limit changes.
  await navigate(page, "Overview");
  const monthly = page.getByRole("region", { name: "Monthly quota" });
  await expect(monthly).toContainText("of 10,000 used");
  await navigate(page, "Plan");
  await shot("plan");
  const pro = page.locator('[data-plan="pro"]');
  await pro.getByText("Choose Pro…").click();
  await pro.getByRole("button", { name: "Switch to Pro" }).click();
  await expect(pro.getByText("Current plan")).toBeVisible();
  await expect(page.getByRole("status")).toHaveText("Plan changed: its limits apply from your next request.");
  await navigate(page, "Overview");
  await expect(monthly).toContainText("of 100,000 used");
  expect(refusedByPolicy).toEqual([]);
});
