import { expect, test, type Browser, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";

// The operator roles: an admin changes a customer's plan and the customer's open overview
// follows; an admin finds the busiest accounts and disables one key of a customer; support views
// the account as the customer, sees the banner, and no forms to change it.

const password = "correct horse battery";

function createOperator(email: string, role: "admin" | "support") {
  execFileSync(process.env.KEYSTILE_E2E_BINARY!, ["create-operator", "--email", email, "--role", role], {
    input: `${password}\n`,
    env: { ...process.env, DATABASE_URL: `sqlite://${process.env.KEYSTILE_E2E_DATABASE}`, RUST_LOG: "warn" },
  });
}

async function logIn(browser: Browser, email: string, scripts = true): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto("/login");
  if (scripts) await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).not.toHaveURL(/\/login/);
  return page;
}

async function openAccount(page: Page, customerEmail: string) {
  await page.goto("/admin");
  await page.getByLabel("Find an account").fill(customerEmail);
  await page.getByRole("button", { name: "Search" }).click();
  // The front page lists the newest accounts (other runs' Initechs among them): wait for the results.
  await expect(page.getByRole("heading", { name: "Accounts found" })).toBeVisible();
  await page.getByRole("link", { name: "Initech" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Initech" })).toBeVisible();
}

test("an admin's plan change shows live on the customer's page; support views read-only", async ({ browser }, testInfo) => {
  test.skip(testInfo.project.use.javaScriptEnabled === false, "live pages need JavaScript");
  test.setTimeout(120_000);
  const stamp = Date.now();
  const customerEmail = `owner-${stamp}@initech.example`;
  const adminEmail = `admin-${stamp}@keystile.example`;
  const supportEmail = `support-${stamp}@keystile.example`;
  createOperator(adminEmail, "admin");
  createOperator(supportEmail, "support");

  // The customer signs up and keeps the overview open.
  const customer = await (await browser.newContext()).newPage();
  await customer.goto("/signup");
  await expect(customer.locator("body[data-hydrated]")).toBeAttached();
  await customer.getByLabel("Email").fill(customerEmail);
  await customer.getByLabel("Password").fill(password);
  await customer.getByLabel(/Company or project name/).fill("Initech");
  await customer.getByRole("button", { name: "Create account" }).click();
  await expect(customer).toHaveURL("/");
  const monthly = customer.getByRole("region", { name: "Monthly quota" });
  await expect(monthly).toContainText("of 10,000 used");

  // The admin moves the account to Pro; the customer's gauge follows without a reload.
  const admin = await logIn(browser, adminEmail);
  await openAccount(admin, customerEmail);
  await admin.getByLabel("Move to plan").selectOption("pro");
  await admin.getByRole("button", { name: "Change plan" }).click();
  await expect(monthly).toContainText("of 100,000 used", { timeout: 5000 });
  await admin.screenshot({ path: testInfo.outputPath("admin-account.png"), fullPage: true });
  await admin.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit, all accounts", exact: true }).click();
  await expect(admin).toHaveURL("/admin/audit");
  await expect(admin.locator('[data-action="plan.change"]').first()).toContainText(adminEmail);
  await admin.screenshot({ path: testInfo.outputPath("admin-audit.png"), fullPage: true });

  // Support views the account as the customer: the banner, and no forms (the server would refuse them).
  const support = await logIn(browser, supportEmail);
  await openAccount(support, customerEmail);
  await support.getByLabel("Reason").fill("ticket 1234: plan question");
  await support.getByRole("button", { name: "View as customer" }).click();
  const banner = support.getByRole("status", { name: "Viewing as customer" });
  await expect(banner).toContainText("Viewing Initech as its owner sees it");
  await expect(banner).toContainText("ticket 1234: plan question");
  await support.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Keys", exact: true }).click();
  await expect(support.getByRole("heading", { name: "No API keys yet" })).toBeVisible();
  await expect(support.getByText("Read-only while you view this account as its customer.")).toBeVisible();
  await expect(support.getByRole("button", { name: "Create key" })).toHaveCount(0);
  await support.screenshot({ path: testInfo.outputPath("view-as.png"), fullPage: true });
  await banner.getByRole("button", { name: "Exit view" }).click();
  await expect(support.getByRole("heading", { level: 1, name: "Initech" })).toBeVisible();

  // The customer sees the view in their audit log.
  await customer.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit log", exact: true }).click();
  await expect(customer.locator('[data-action="view_as.start"]')).toContainText("ticket 1234: plan question");
  await customer.screenshot({ path: testInfo.outputPath("audit.png"), fullPage: true });
});

test("an admin changes a bucket's limit and a tier's fee on Limits and pricing", async ({ browser }, testInfo) => {
  const adminEmail = `limits-admin-${Date.now()}-${testInfo.project.name}@keystile.example`;
  createOperator(adminEmail, "admin");
  const scripts = testInfo.project.use.javaScriptEnabled !== false;
  const admin = await logIn(browser, adminEmail, scripts);
  await admin.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Limits and pricing" }).click();
  await expect(admin).toHaveURL("/admin/limits");
  if (scripts) await expect(admin.locator("body[data-hydrated]")).toBeAttached();

  // Exports: 30 an hour → 31 a day, then back (other tests share this server).
  const exportsRow = admin.locator('tr[data-bucket="exports"]');
  await expect(exportsRow).toContainText("30 per hour");
  await admin.getByLabel("Limit of exports").fill("31");
  await admin.getByLabel("Window of exports").selectOption("day");
  await admin.getByRole("button", { name: "Save the limit of exports" }).click();
  await expect(exportsRow).toContainText("31 per day");
  await admin.screenshot({ path: testInfo.outputPath("limits.png"), fullPage: true });
  await admin.getByLabel("Limit of exports").fill("30");
  await admin.getByLabel("Window of exports").selectOption("hour");
  await admin.getByRole("button", { name: "Save the limit of exports" }).click();
  await expect(exportsRow).toContainText("30 per hour");

  // A tier's fee per extra request: $0.20 → $0.21, then back.
  const tierRow = admin.locator('tr[data-tier="101-150 rpm"]');
  await expect(tierRow).toContainText("$0.20");
  await admin.getByLabel("Fee per extra request of 101-150 rpm in cents").fill("21");
  await admin.getByRole("button", { name: "Save the fees of 101-150 rpm" }).click();
  await expect(tierRow).toContainText("$0.21");
  await admin.getByLabel("Fee per extra request of 101-150 rpm in cents").fill("20");
  await admin.getByRole("button", { name: "Save the fees of 101-150 rpm" }).click();
  await expect(tierRow).toContainText("$0.20");

  // Both changes are in the audit log, in words.
  await admin.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit, all accounts", exact: true }).click();
  await expect(admin.locator('[data-action="bucket.edit"]').first()).toContainText("Bucket limit changed");
  await expect(admin.locator('[data-action="pricing.edit"]').first()).toContainText("Pricing changed");
});

test("an admin disables one misbehaving key with a reason; the customer sees it and the key gets 401", async ({ browser, request }, testInfo) => {
  const js = testInfo.project.use.javaScriptEnabled !== false;
  const stamp = Date.now();
  const customerEmail = `owner-keys-${stamp}-${testInfo.project.name}@initech.example`;
  const adminEmail = `admin-keys-${stamp}-${testInfo.project.name}@keystile.example`;
  createOperator(adminEmail, "admin");

  // The customer signs up and creates a key through the session API.
  const customer = await (await browser.newContext({ javaScriptEnabled: js })).newPage();
  await customer.goto("/signup");
  await customer.getByLabel("Email").fill(customerEmail);
  await customer.getByLabel("Password").fill(password);
  await customer.getByLabel(/Company or project name/).fill("Initech");
  await customer.getByRole("button", { name: "Create account" }).click();
  await expect(customer).toHaveURL("/");
  const origin = new URL(customer.url()).origin;
  const created = await customer.request.post("/v1/keys", {
    headers: { Origin: origin, "Sec-Fetch-Site": "same-origin" },
    data: { name: "Crawler" },
  });
  expect(created.status()).toBe(201);
  const secret = (await created.json()).secret as string;
  const limits = async () => (await request.get("/v1/limits", { headers: { Authorization: `Bearer ${secret}` } })).status();
  expect(await limits()).toBe(200);

  const admin = await logIn(browser, adminEmail, js);
  // Staff land on the console, which ranks the accounts that called the API in the last day;
  // each row opens its account.
  await expect(admin).toHaveURL("/admin");
  await expect(admin.getByTestId("last-day-summary")).toContainText(/API calls from \d+ accounts?/);
  const busiest = admin.getByRole("region", { name: "Busiest accounts, last 24 hours" }).getByRole("row").nth(1);
  const busiestName = await busiest.getByRole("link").innerText();
  await busiest.getByRole("link").click();
  await expect(admin.getByRole("heading", { level: 1, name: busiestName })).toBeVisible();
  await openAccount(admin, customerEmail);
  const row = admin.getByRole("row", { name: /Crawler/ });
  await row.getByText("Disable…").click();
  await row.getByLabel("Reason").fill("scraping at 300 requests a second");
  await row.getByRole("button", { name: "Disable key" }).click();
  await expect(admin.getByRole("row", { name: /Crawler/ }).getByText("Disabled", { exact: true })).toBeVisible();
  await expect(admin.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  expect(await limits()).toBe(401);
  // The row now offers "Enable…", folded, its reason empty: not the disable form's, refilled.
  const enable = admin.getByRole("row", { name: /Crawler/ }).locator("details");
  await expect(enable).not.toHaveAttribute("open");
  await expect(enable.getByLabel("Reason")).toHaveValue("");
  if (js) {
    // A refused form far down the page answers where the admin is looking, and alone.
    const scans = admin.getByLabel("Limit for scans");
    await scans.fill("abc");
    await scans.press("Enter");
    await expect(admin.getByRole("alert")).toBeInViewport();
    await expect(admin.getByRole("status").filter({ hasText: "Saved." })).toHaveCount(0);
  }

  // The customer's Keys page says so, with staff's reason, and offers no way to enable it;
  // their audit log says who and why.
  await customer.goto("/keys");
  const customerRow = customer.getByRole("row", { name: /Crawler/ });
  await expect(customerRow.getByText("Disabled", { exact: true })).toBeVisible();
  await expect(customerRow).toContainText("Disabled by keystile staff: scraping at 300 requests a second");
  await expect(customerRow.getByRole("button", { name: /Enable key/ })).toHaveCount(0);
  const reenabled = await customer.request.post(`/v1/keys/${(await created.json()).key.id}/enable`, {
    headers: { Origin: origin, "Sec-Fetch-Site": "same-origin" },
  });
  expect(reenabled.status()).toBe(403);
  expect(await limits()).toBe(401);
  await customer.goto("/audit");
  await expect(customer.locator('[data-action="key.disable"]')).toContainText("scraping at 300 requests a second");
});

test("a customer who opens the console's address is told it is not for them", async ({ browser }, testInfo) => {
  const scripts = testInfo.project.use.javaScriptEnabled !== false;
  const customer = await (await browser.newContext()).newPage();
  const errors: string[] = [];
  customer.on("pageerror", (error) => errors.push(error.message));
  await customer.goto("/signup");
  if (scripts) await expect(customer.locator("body[data-hydrated]")).toBeAttached();
  await customer.getByLabel("Email").fill(`owner-${Date.now()}@hooli.example`);
  await customer.getByLabel("Password").fill(password);
  await customer.getByLabel(/Company or project name/).fill("Hooli");
  await customer.getByRole("button", { name: "Create account" }).click();
  await expect(customer).toHaveURL("/");

  const response = await customer.goto("/admin/plans");
  expect(response?.status()).toBe(403);
  if (scripts) await expect(customer.locator("body[data-hydrated]")).toBeAttached();
  await expect(customer.getByRole("heading", { level: 1, name: "Not for your role" })).toBeVisible();
  await expect(customer.getByText("You don't have access")).toHaveCount(0);
  await customer.getByRole("link", { name: "Go to the overview" }).click();
  await expect(customer).toHaveURL("/");
  await expect(customer.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  expect(errors).toEqual([]);
});
