import { expect, test } from "@playwright/test";
import { awaitFreshMinute } from "./gauges";

test("the gauges follow the key's traffic live, without a reload", async ({ page, request }, testInfo) => {
  test.skip(testInfo.project.use.javaScriptEnabled === false, "live updates need JavaScript");
  const email = `live-${Date.now()}@example.com`;
  await page.goto("/signup");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL("/");

  await page.goto("/keys");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByLabel("Name").fill("Live");
  await page.getByRole("button", { name: "Create key" }).click();
  const dialog = page.getByRole("dialog", { name: "Copy your new secret" });
  const secret = (await dialog.getByTestId("new-secret").textContent())!.trim();
  await dialog.getByRole("button", { name: "I have stored it" }).click();

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Overview", exact: true }).click();
  await page.getByLabel("Show").selectOption({ label: "Key: Live" });
  await page.getByRole("button", { name: "Show", exact: true }).click();
  const reads = page.getByRole("region", { name: "Reads" });
  await expect(reads).toContainText("0 of 60 used");
  await awaitFreshMinute(reads);
  const loads = await page.evaluate(() => performance.getEntriesByType("navigation").length);

  for (let i = 0; i < 3; i++) {
    const response = await request.get("/v1/snapshots", { headers: { Authorization: `Bearer ${secret}` } });
    expect(response.status()).toBe(200);
  }
  await expect(reads).toContainText("3 of 60 used", { timeout: 3000 });
  expect(await page.evaluate(() => performance.getEntriesByType("navigation").length)).toBe(loads);
  await page.screenshot({ path: testInfo.outputPath("overview.png"), fullPage: true });
});
