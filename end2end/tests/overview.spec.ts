import { expect, test } from "@playwright/test";
import { signUpLive } from "./accounts";
import { awaitFreshMinute } from "./gauges";

test("the gauges follow the key's traffic live, without a reload", async ({ page, request }, testInfo) => {
  test.skip(testInfo.project.use.javaScriptEnabled === false, "live updates need JavaScript");
  const email = `live-${Date.now()}@example.com`;
  await signUpLive(page, email);

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
  // The address names the key and nothing else (no field for the nameless button).
  await expect(page).toHaveURL(/\/\?key=[\w-]+$/);
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

test("a hidden tab stops refreshing, and catches up as soon as it is shown again", async ({ page }, testInfo) => {
  test.skip(testInfo.project.use.javaScriptEnabled === false, "live updates need JavaScript");
  await page.goto("/signup");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByLabel("Email").fill(`hidden-${Date.now()}@example.com`);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();

  const calls: string[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.startsWith("/api/")) calls.push(request.url());
  });
  await expect.poll(() => calls.length, { timeout: 3000 }).toBeGreaterThan(0);

  const setHidden = (hidden: boolean) =>
    page.evaluate((hidden) => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
      document.dispatchEvent(new Event("visibilitychange", { bubbles: true })); // as browsers send it
    }, hidden);
  await setHidden(true);
  await page.waitForTimeout(200); // a refresh already on its way when the tab was hidden
  const whileHidden = calls.length;
  // Two and a half refresh periods: a visible tab would have asked twice.
  await page.waitForTimeout(2500);
  expect(calls.length).toBe(whileHidden);

  // Shown again: the page asks at once, before its next tick (the listener's fetch starts in
  // the same turn of the event loop; a tick would need its own timer to come due).
  const askedAtOnce = await page.evaluate(async () => {
    let asked = false;
    const fetch = window.fetch;
    window.fetch = (...args) => {
      asked = true;
      return fetch.apply(window, args);
    };
    Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
    document.dispatchEvent(new Event("visibilitychange", { bubbles: true })); // as browsers send it
    await new Promise((resolve) => setTimeout(resolve, 0));
    window.fetch = fetch;
    return asked;
  });
  expect(askedAtOnce).toBe(true);
  await expect.poll(() => calls.length, { timeout: 3000 }).toBeGreaterThan(whileHidden);
});
