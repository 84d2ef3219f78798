import { expect, test, type Page } from "@playwright/test";

const password = "correct horse battery";

/** With JavaScript on, wait until the app has hydrated; with it off, check that it never does. */
async function pageIsReady(page: Page, javaScriptEnabled: boolean) {
  const hydrated = page.locator("body[data-hydrated]");
  if (javaScriptEnabled) {
    await expect(hydrated).toBeAttached();
  } else {
    await expect(hydrated).toHaveCount(0);
  }
}

test("sign up, use the shell, log out, and log back in to the page asked for", async ({ page }, testInfo) => {
  const js = testInfo.project.use.javaScriptEnabled !== false;
  const email = `ada-${Date.now()}-${testInfo.project.name}@example.com`;

  await page.goto("/signup");
  await pageIsReady(page, js);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page).toHaveURL("/");
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.getByText(email)).toBeVisible();

  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Usage" }).click();
  await expect(page).toHaveURL("/usage");
  await expect(page.getByRole("heading", { name: "Usage", exact: true })).toBeVisible();
  await expect(page.getByRole("heading", { name: "No usage yet" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Usage" })).toHaveAttribute("aria-current", "page");
  // The operator section is not a customer's.
  await expect(nav.getByRole("link", { name: "Plan catalogue" })).toHaveCount(0);

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);

  await page.goto("/plan");
  await expect(page).toHaveURL("/login?next=/plan");
  await pageIsReady(page, js);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Email or password is incorrect.");

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL("/plan");
  await expect(page.getByRole("heading", { name: "Plan", exact: true })).toBeVisible();
  await expect(page.getByText("Current plan")).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("plan.png"), fullPage: true });
});
