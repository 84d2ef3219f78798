import { expect, test, type APIRequestContext, type Page } from "@playwright/test";

const password = "correct horse battery";

async function status(request: APIRequestContext, secret: string, method: "GET" | "POST", path: string): Promise<number> {
  const response = await request.fetch(path, { method, headers: { Authorization: `Bearer ${secret}` }, data: method === "POST" ? {} : undefined });
  return response.status();
}

/// A key restricted to reading from 192.0.2.0/24: through the form with JavaScript (the
/// secret is shown once, in a dialog), through `/v1/keys` on the same session without.
async function createRestrictedKey(page: Page, js: boolean): Promise<string> {
  if (js) {
    await expect(page.locator("body[data-hydrated]")).toBeAttached();
    await page.getByLabel("Name", { exact: true }).fill("Reports");
    await page.getByRole("region", { name: "Create a key" }).getByLabel("Access").selectOption("read");
    await page.getByRole("region", { name: "Create a key" }).getByLabel("Allowed IP addresses").fill("192.0.2.0/24");
    await page.getByRole("button", { name: "Create key" }).click();
    const dialog = page.getByRole("dialog", { name: "Copy your new secret" });
    const secret = (await dialog.getByTestId("new-secret").textContent())!.trim();
    await dialog.getByRole("button", { name: "I have stored it" }).click();
    return secret;
  }
  const origin = new URL(page.url()).origin;
  const created = await page.request.post("/v1/keys", {
    headers: { Origin: origin, "Sec-Fetch-Site": "same-origin" },
    data: { name: "Reports", read_only: true, allowed_ips: ["192.0.2.0/24"] },
  });
  expect(created.status()).toBe(201);
  const secret = (await created.json()).secret as string;
  await page.reload();
  return secret;
}

test("restrict a key to reading and to an address range; requests outside get 403", async ({ page, request }, testInfo) => {
  const js = testInfo.project.use.javaScriptEnabled !== false;
  // This project's requests come from its own address (playwright.config.ts), in 198.51.100.0/24.
  const email = `restrict-${Date.now()}-${testInfo.project.name}@example.com`;
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL("/");
  await page.goto("/keys");

  const secret = await createRestrictedKey(page, js);
  const row = page.getByRole("row", { name: /Reports/ });
  await expect(row.getByText("Read only · From 192.0.2.0/24")).toBeVisible();
  expect(await status(request, secret, "GET", "/v1/limits")).toBe(403);

  // A range that is not one is refused, and nothing changes.
  await row.getByText("Restrict…").click();
  await row.getByLabel("Allowed IP addresses").fill("198.51.100.0/24\noffice");
  await row.getByRole("button", { name: "Save restrictions" }).click();
  await expect(page.getByRole("alert")).toContainText('"office" is not an IP address or range');
  await expect(page.getByRole("row", { name: /Reports/ }).getByText("Read only · From 192.0.2.0/24")).toBeVisible();

  // This project's own range: reading works, starting a scan is still refused; and a quota of
  // its own, two requests a day: the third read is refused with 429.
  if (!js) await row.getByText("Restrict…").click();
  await row.getByLabel("Allowed IP addresses").fill("198.51.100.0/24");
  await row.getByLabel("Its own quota").fill("2");
  await row.getByLabel("requests per").selectOption("day");
  await row.getByRole("button", { name: "Save restrictions" }).click();
  // Without JavaScript the page reloads with the saved row, and the same message.
  await expect(page.getByRole("status").filter({ hasText: "Restrictions saved" })).toBeVisible();
  await expect(row.getByText("Read only · From 198.51.100.0/24 · At most 2 requests a day")).toBeVisible();
  expect(await status(request, secret, "GET", "/v1/limits")).toBe(200);
  expect(await status(request, secret, "POST", "/v1/scans")).toBe(403);
  expect(await status(request, secret, "GET", "/v1/snapshots")).toBe(200);
  expect(await status(request, secret, "GET", "/v1/snapshots")).toBe(200);
  expect(await status(request, secret, "GET", "/v1/snapshots")).toBe(429);
  await page.screenshot({ path: testInfo.outputPath("keys-restricted.png"), fullPage: true });

  // The audit log says what changed, in words.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit log" }).click();
  const entry = page.getByRole("row", { name: /Key restrictions changed/ });
  await expect(entry.getByText("(read only; from 198.51.100.0/24; at most 2 requests a day)")).toBeVisible();

  // The key's name on the Keys page leads to its usage, which lists its refusals, newest
  // first, with why (written within a second).
  await page.goto("/keys");
  await expect(page.getByRole("row", { name: /Reports/ })).toContainText("At most 2 requests a day (2 used)");
  await page.getByRole("link", { name: "Reports" }).click();
  await expect(page).toHaveURL(/\/usage\?key=key_/);
  const refusals = page.getByRole("region", { name: /refused requests/ });
  await expect(async () => {
    await page.reload();
    await expect(refusals.getByRole("row").nth(1)).toContainText("GET /v1/snapshots", { timeout: 1_000 });
  }).toPass();
  await expect(refusals.getByRole("row").nth(1)).toContainText("Key's own quota");
  await expect(refusals.getByRole("row", { name: /POST \/v1\/scans/ }).first()).toContainText("Key restrictions");
  await page.screenshot({ path: testInfo.outputPath("usage-refusals.png"), fullPage: true });
});
