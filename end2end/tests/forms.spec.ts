import { expect, test } from "@playwright/test";
import { signUpLive } from "./accounts";

// The dashboard's forms as plain HTML: with JavaScript on or off, the spend cap is set and
// refused the same way, the usage filters and audit filters are GET forms, and the change
// lands in the audit log.

test("billing, usage and audit forms work with and without JavaScript", async ({ page }, testInfo) => {
  const js = testInfo.project.use.javaScriptEnabled !== false;
  await page.goto("/signup");
  if (js) await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByLabel("Email").fill(`forms-${Date.now()}-${testInfo.project.name}@example.com`);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL("/");

  await page.goto("/billing");
  // With JavaScript, act on the hydrated page: a click before hydration posts the plain form.
  if (js) await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByLabel("Monthly cap (USD)").fill("a lot");
  const save = page.getByRole("button", { name: "Save spend cap" });
  await save.focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("alert")).toContainText("Enter an amount like 50 or 49.99");
  // The keyboard user's place is kept: the focus stays on the button they pressed.
  if (js) await expect(save).toBeFocused();
  await page.getByLabel("Monthly cap (USD)").fill("75.50");
  await page.getByRole("button", { name: "Save spend cap" }).click();
  await expect(page.getByText("$75.50 a month")).toBeVisible();
  if (js) await expect(page.getByRole("status")).toHaveText("Spend cap saved.");

  await page.goto("/usage");
  await expect(page.getByRole("heading", { name: "No usage yet" })).toBeVisible();

  await page.goto("/audit");
  await page.getByLabel("Action").fill("spend_cap.");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/action=spend_cap/);
  await expect(page.locator('[data-action="spend_cap.change"]')).toContainText("$75.50");
  await expect(page.locator('[data-action="spend_cap.change"]')).toHaveCount(1);
});

test("a change sent after the session ended says so once, and logging in again leads back", async ({ page }, testInfo) => {
  // Without JavaScript the form's post comes back as a page load, which goes to the login page.
  test.skip(testInfo.project.use.javaScriptEnabled === false, "a live page only");
  const email = `ended-${Date.now()}@example.com`;
  await signUpLive(page, email);
  await page.goto("/keys");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();

  // Logged out in another tab: this page does not know yet.
  const other = await page.context().newPage();
  await other.goto("/");
  await other.getByRole("button", { name: "Log out" }).click();
  await expect(other).toHaveURL(/\/login/);
  await other.close();

  await page.getByLabel("Name", { exact: true }).fill("Late");
  await page.getByRole("button", { name: "Create key" }).click();
  const alert = page.getByRole("alert");
  await expect(alert).toHaveCount(1);
  await expect(alert).toContainText("Your session has ended.");
  await expect(page.getByRole("heading", { name: "Create a key" })).toBeVisible();
  await alert.getByRole("link", { name: "Log in again" }).click();
  await expect(page).toHaveURL("/login?next=/keys");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL("/keys");
});
