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

async function signUp(page: Page, javaScriptEnabled: boolean, email: string) {
  await page.goto("/signup");
  await pageIsReady(page, javaScriptEnabled);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
}

test("sign up, use the shell, log out, and log back in to the page asked for", async ({ page }, testInfo) => {
  const js = testInfo.project.use.javaScriptEnabled !== false;
  const email = `ada-${Date.now()}-${testInfo.project.name}@example.com`;

  await signUp(page, js, email);

  await expect(page).toHaveURL("/");
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.getByText(email)).toBeVisible();

  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Usage", exact: true }).click();
  await expect(page).toHaveURL("/usage");
  await expect(page.getByRole("heading", { name: "Usage", exact: true })).toBeVisible();
  await expect(page.getByRole("heading", { name: "No usage yet" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Usage", exact: true })).toHaveAttribute("aria-current", "page");
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

test("on the Account page: rename the account, change the password (other browsers are logged out), log out everywhere else", async ({ page, browser }, testInfo) => {
  const js = testInfo.project.use.javaScriptEnabled !== false;
  const email = `grace-${Date.now()}-${testInfo.project.name}@example.com`;
  const newPassword = "a brand new horse";

  await signUp(page, js, email);
  await expect(page).toHaveURL("/");

  // A second browser signed in as the same user.
  const laptop = await browser.newPage({ javaScriptEnabled: js });
  await laptop.goto("/login?next=/keys");
  await laptop.getByLabel("Email").fill(email);
  await laptop.getByLabel("Password").fill(password);
  await laptop.getByRole("button", { name: "Log in" }).click();
  await expect(laptop).toHaveURL("/keys");

  // The signed-in email in the navigation leads to the Account page.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: email }).click();
  await expect(page).toHaveURL("/account");
  await expect(page.getByRole("heading", { name: "Account", exact: true })).toBeVisible();
  await pageIsReady(page, js);

  await page.getByRole("textbox", { name: "Account name" }).fill("Grace Labs");
  const saved = page.waitForResponse((response) => response.url().endsWith("/api/rename_account"));
  await page.getByRole("button", { name: "Save name" }).click();
  await saved;
  // Without JavaScript the page reloads, and says so all the same.
  await expect(page.getByRole("status")).toHaveText("Saved.");
  await page.waitForLoadState();
  await page.goto("/account");
  await expect(page.getByRole("textbox", { name: "Account name" })).toHaveValue("Grace Labs");
  await pageIsReady(page, js);

  await page.getByLabel("Current password").fill("not my password");
  await page.getByLabel("New password", { exact: true }).fill(newPassword);
  await page.getByLabel("New password, again").fill(newPassword);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("alert")).toHaveText("Your current password is not correct.");
  await expect(page.getByLabel("Current password")).toHaveValue("");

  await page.getByLabel("Current password").fill(password);
  await page.getByLabel("New password", { exact: true }).fill(newPassword);
  await page.getByLabel("New password, again").fill(newPassword);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password was changed.");
  await expect(page.getByLabel("Current password")).toHaveValue("");

  await laptop.goto("/keys");
  await expect(laptop).toHaveURL("/login?next=/keys");
  await laptop.close();

  await page.getByRole("button", { name: "Log out", exact: true }).click();
  await expect(page).toHaveURL(/\/login$/);
  await pageIsReady(page, js);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(newPassword);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL("/");

  await page.goto("/account");
  await pageIsReady(page, js);
  await page.getByRole("button", { name: "Log out everywhere else" }).click();
  await expect(page.getByRole("status")).toHaveText("Every other browser logged in as you has been logged out.");
  await page.goto("/keys");
  await expect(page).toHaveURL("/keys");
});
