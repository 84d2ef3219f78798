import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";

// Every page, as each role sees it, checked by axe-core against WCAG 2.1 A and AA: labels,
// names, contrast, landmarks, headings, ARIA. The pages are filled in first (a key, a pending
// invitation, a one-time secret in its dialog) so that what is checked is what people see.

const password = "correct horse battery";
const wcag = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// Scans the page as it is now, in the light and the dark palette; fails with each violation's
/// rule, its help and the elements. Soft, so one run lists every page's violations.
async function expectAccessible(page: Page, what: string) {
  for (const colorScheme of ["light", "dark"] as const) {
    // Reduced motion turns the palette's colour transitions off: no half-way colours are scanned.
    await page.emulateMedia({ colorScheme, reducedMotion: "reduce" });
    const results = await new AxeBuilder({ page }).withTags(wcag).analyze();
    const found = results.violations.map(
      (violation) =>
        `${violation.id} (${violation.impact}): ${violation.help}\n` +
        violation.nodes
          .map((node) => `    ${node.target.join(" ")}: ${node.failureSummary?.split("\n").slice(1).join("; ")}`)
          .join("\n"),
    );
    expect.soft(found, `${what}, ${colorScheme} palette, has accessibility violations`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: "light", reducedMotion: "no-preference" });
}

async function visit(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
}

function createOperator(email: string, role: "admin" | "support") {
  execFileSync(process.env.KEYSTILE_E2E_BINARY!, ["create-operator", "--email", email, "--role", role], {
    input: `${password}\n`,
    env: { ...process.env, DATABASE_URL: `sqlite://${process.env.KEYSTILE_E2E_DATABASE}`, RUST_LOG: "warn" },
  });
}

async function logIn(browser: Browser, email: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await visit(page, "/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).not.toHaveURL(/\/login/);
  return page;
}

async function signUp(page: Page, email: string, company: string) {
  await visit(page, "/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByLabel(/Company or project name/).fill(company);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL("/");
}

test.beforeEach(({}, testInfo) => {
  test.skip(testInfo.project.use.javaScriptEnabled === false, "axe runs as a script in the page");
  test.setTimeout(120_000);
});

test("the log-in, sign-up and join pages meet WCAG 2.1 AA", async ({ page }) => {
  for (const path of ["/login", "/signup", "/join"]) {
    await visit(page, path);
    await expectAccessible(page, path);
  }
});

test("a customer's pages meet WCAG 2.1 AA, with their forms and one-time dialogs open", async ({ page }) => {
  const stamp = Date.now();
  await signUp(page, `a11y-${stamp}@example.com`, "Acme Widgets");

  await visit(page, "/keys");
  await expectAccessible(page, "/keys with no keys");
  await page.getByLabel("Name").fill("Billing worker");
  await page.getByRole("button", { name: "Create key" }).click();
  const secretDialog = page.getByRole("dialog", { name: "Copy your new secret" });
  await expect(secretDialog).toBeVisible();
  await expectAccessible(page, "/keys with the new secret's dialog");
  await secretDialog.getByRole("button", { name: "I have stored it" }).click();
  const row = page.getByRole("row", { name: /Billing worker/ });
  await row.getByText("Restrict…").click();
  await row.getByText("Rotate…").click();
  await row.getByText("Disable…").click();
  await row.getByText("Revoke…").click();
  await expectAccessible(page, "/keys with a key's restrict, rotate, disable and revoke forms open");
  await row.getByRole("button", { name: "Disable key" }).click();
  await expect(row.getByRole("button", { name: "Enable key Billing worker" })).toBeVisible();
  await expectAccessible(page, "/keys with a disabled key");

  await visit(page, "/team");
  await page.getByLabel("Their email").fill(`teammate-${stamp}@example.com`);
  await page.getByRole("button", { name: "Invite" }).click();
  const codeDialog = page.getByRole("dialog", { name: "Copy the invitation code" });
  await expect(codeDialog).toBeVisible();
  await expectAccessible(page, "/team with the invitation code's dialog");
  await codeDialog.getByRole("button", { name: "I have sent it" }).click();
  await expectAccessible(page, "/team with a pending invitation");

  for (const path of ["/", "/usage", "/billing", "/plan", "/audit", "/account"]) {
    await visit(page, path);
    await expectAccessible(page, path);
  }

  // On a phone the tables are wider than the screen: their frames must scroll by keyboard too,
  // and only they scroll sideways, never the page (WCAG 1.4.10, reflow).
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ["/", "/keys", "/usage", "/team", "/audit"]) {
    await visit(page, path);
    await expectAccessible(page, `${path} on a phone`);
    const pageWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect.soft(pageWidth, `${path} on a phone scrolls sideways as a whole`).toBeLessThanOrEqual(390);
    // Every link of the navigation, and Log out, on the screen: none hidden past its edge.
    for (const item of await page.getByRole("navigation", { name: "Main" }).getByRole("link").all()) {
      await expect.soft(item, `${path} on a phone`).toBeInViewport({ ratio: 1 });
    }
    await expect.soft(page.getByRole("button", { name: "Log out" })).toBeInViewport({ ratio: 1 });
  }
});

test("the operator console and support's view-as meet WCAG 2.1 AA", async ({ page, browser }) => {
  const stamp = Date.now();
  const owner = `a11y-owner-${stamp}@example.com`;
  await signUp(page, owner, `Globex ${stamp}`);

  const adminEmail = `a11y-admin-${stamp}@keystile.example`;
  createOperator(adminEmail, "admin");
  const admin = await logIn(browser, adminEmail);
  for (const path of ["/admin", "/admin/audit", "/admin/plans", "/admin/limits"]) {
    await visit(admin, path);
    await expectAccessible(admin, path);
  }
  await visit(admin, "/admin");
  await admin.getByLabel("Find an account").fill(owner);
  await admin.getByRole("button", { name: "Search" }).click();
  await admin.getByRole("link", { name: `Globex ${stamp}` }).click();
  await expect(admin.getByRole("heading", { level: 1, name: `Globex ${stamp}` })).toBeVisible();
  const accountPath = new URL(admin.url()).pathname;
  await visit(admin, accountPath);
  await expectAccessible(admin, "/admin/accounts/:id");

  // Support viewing the account as its owner: the banner is on every page.
  const supportEmail = `a11y-support-${stamp}@keystile.example`;
  createOperator(supportEmail, "support");
  const support = await logIn(browser, supportEmail);
  await visit(support, accountPath);
  await support.getByLabel("Reason").fill("ticket 42: checking the page");
  await support.getByRole("button", { name: "View as customer" }).click();
  await expect(support.getByRole("status", { name: "Viewing as customer" })).toBeVisible();
  for (const path of ["/", "/keys"]) {
    await visit(support, path);
    await expectAccessible(support, `${path} under view-as`);
  }
});
