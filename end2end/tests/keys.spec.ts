import { expect, test, type APIRequestContext, type Page } from "@playwright/test";

const password = "correct horse battery";

async function statusWith(request: APIRequestContext, secret: string): Promise<number> {
  const response = await request.get("/v1/limits", { headers: { Authorization: `Bearer ${secret}` } });
  return response.status();
}

/** A new customer, on the Keys page once it is live. */
async function signUpAndOpenKeys(page: Page, emailPrefix: string) {
  await page.goto("/signup");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByLabel("Email").fill(`${emailPrefix}-${Date.now()}@example.com`);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL("/");
  await page.goto("/keys");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
}

test("create a key, copy its secret once, call the API, rotate, disable and enable, revoke, rename", async ({ page, request, context }, testInfo) => {
  test.skip(testInfo.project.use.javaScriptEnabled === false, "secrets are shown only with JavaScript");
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const email = `keys-${Date.now()}@example.com`;

  await page.goto("/signup");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL("/");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Keys", exact: true }).click();
  await expect(page.getByRole("heading", { name: "No API keys yet" })).toBeVisible();

  await page.getByLabel("Name").fill("CI deploy");
  await page.getByRole("button", { name: "Create key" }).click();
  const dialog = page.getByRole("dialog", { name: "Copy your new secret" });
  await expect(dialog).toBeVisible();
  const secret = (await dialog.getByTestId("new-secret").textContent())!.trim();
  expect(secret).toMatch(/^ks_[0-9A-Za-z]{22}_[0-9A-Za-z]{6}$/);
  await dialog.getByRole("button", { name: "Copy" }).click();
  await expect(dialog.getByRole("status")).toHaveText("Copied");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await page.screenshot({ path: testInfo.outputPath("keys-secret.png") });
  // Escape does not lose the secret: only the done button closes the dialog.
  await page.keyboard.press("Escape");
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId("new-secret")).toHaveText(secret);
  await dialog.getByRole("button", { name: "I have stored it" }).click();
  await expect(dialog).toBeHidden();
  // The form is emptied, so pressing "Create key" again does not make a second "CI deploy".
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue("");

  const row = page.getByRole("row", { name: /CI deploy/ });
  await expect(row.getByText("Active")).toBeVisible();
  await expect(row.getByText(secret.slice(0, 9) + "…")).toBeVisible();
  // The secret is never in the page again.
  await page.reload();
  expect(await page.content()).not.toContain(secret);

  expect(await statusWith(request, secret)).toBe(200);

  // Rotate with no grace: the old secret stops at once, the new one works. The key, which
  // never expired, now expires in 90 days.
  await row.getByText("Rotate…").click();
  await row.getByLabel("The old secret keeps working for").selectOption("now");
  await expect(row.getByLabel("The key expires")).toHaveValue("");
  await row.getByLabel("The key expires").selectOption({ label: "In 90 days" });
  await row.getByRole("button", { name: "Rotate secret" }).click();
  await expect(dialog).toBeVisible();
  const rotated = (await dialog.getByTestId("new-secret").textContent())!.trim();
  await dialog.getByRole("button", { name: "I have stored it" }).click();
  await expect(row.getByLabel("The old secret keeps working for")).toBeHidden();
  expect(rotated).not.toBe(secret);
  expect(await statusWith(request, secret)).toBe(401);
  expect(await statusWith(request, rotated)).toBe(200);
  const in90Days = new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10);
  await expect(row.locator(".when").filter({ hasText: in90Days })).toBeVisible();

  // Disable: requests get 401 until the key is enabled again, with the same secret.
  await row.getByText("Disable…").click();
  await row.getByRole("button", { name: "Disable key" }).click();
  await expect(row.getByText("Disabled", { exact: true })).toBeVisible();
  expect(await statusWith(request, rotated)).toBe(401);
  await row.getByRole("button", { name: "Enable key" }).click();
  await expect(row.getByText("Active", { exact: true })).toBeVisible();
  expect(await statusWith(request, rotated)).toBe(200);

  // Revoke, confirmed by typing the key's name.
  await row.getByText("Revoke…").click();
  // A wrong name is refused, and the row it was typed in says so.
  await row.getByLabel("Type CI deploy to confirm").fill("CI deplo");
  await row.getByRole("button", { name: "Revoke key" }).click();
  await expect(row.getByRole("alert")).toBeVisible();
  await row.getByLabel("Type CI deploy to confirm").fill("CI deploy");
  await row.getByRole("button", { name: "Revoke key" }).click();
  await expect(page.getByRole("row", { name: /CI deploy/ }).getByText("Revoked")).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "Key revoked" })).toBeVisible();
  // A revoked key is final: it can be renamed, nothing more.
  await expect(row.getByText("Restrict…")).toHaveCount(0);
  expect(await statusWith(request, rotated)).toBe(401);

  // Rename: the name is how the charts and the audit log show the key, revoked or not.
  await row.getByText("Rename…").click();
  await row.getByLabel("New name").fill("CI deploy (retired)");
  await row.getByRole("button", { name: "Save name" }).click();
  await expect(page.getByRole("rowheader", { name: "CI deploy (retired)" })).toBeVisible();
  await expect(row.getByLabel("New name")).toBeHidden();
  await page.screenshot({ path: testInfo.outputPath("keys-revoked.png"), fullPage: true });
});

test("after one row's action, another row's action works and shows its error in its own row", async ({ page }, testInfo) => {
  test.skip(testInfo.project.use.javaScriptEnabled === false, "rows show their own errors only with JavaScript");
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    // The refused form's 422 is logged by the browser itself; panics are logged as errors too.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) errors.push(message.text());
  });
  await signUpAndOpenKeys(page, "rows");
  for (const name of ["first", "second"]) {
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "I have stored it" }).click();
    await expect(page.getByRole("rowheader", { name })).toBeVisible();
  }

  const first = page.getByRole("row", { name: /first/ });
  await first.getByText("Rename…").click();
  await first.getByLabel("New name").fill("first renamed");
  await first.getByRole("button", { name: "Save name" }).click();
  await expect(page.getByRole("rowheader", { name: "first renamed" })).toBeVisible();
  const renamed = page.getByRole("status").filter({ hasText: "Key renamed." });
  await expect(renamed).toBeVisible();
  // The folded form gives the focus back to its toggle, not to the page's start.
  await expect(page.getByRole("row", { name: /first renamed/ }).getByText("Rename…")).toBeFocused();

  const second = page.getByRole("row", { name: /second/ });
  await second.getByText("Restrict…").click();
  await second.getByLabel("Allowed IP addresses").fill("not-an-address");
  // On a short screen the button is far below the top of the form, where the error appears:
  // it is scrolled into view, or pressing the button would seem to do nothing.
  await page.setViewportSize({ width: 1280, height: 360 });
  await second.getByRole("button", { name: "Save restrictions" }).click();
  await expect(second.getByRole("alert")).toBeVisible();
  await expect(second.getByRole("alert")).toBeInViewport();
  // The page speaks of the latest change only.
  await expect(renamed).toHaveCount(0);
  await expect(page.getByRole("row", { name: /first renamed/ }).getByRole("alert")).toHaveCount(0);

  // Escape folds the open panel and gives the focus back to its toggle.
  await second.getByLabel("Allowed IP addresses").press("Escape");
  await expect(second.locator("details[open]")).toHaveCount(0);
  await expect(second.getByText("Restrict…")).toBeFocused();
  expect(errors).toEqual([]);
});

test("a 64-character key name without spaces wraps instead of widening the pages", async ({ page }, testInfo) => {
  test.skip(testInfo.project.use.javaScriptEnabled === false, "the key is created with JavaScript");
  await signUpAndOpenKeys(page, "long");
  const name = "nightly-export-".padEnd(64, "x");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Create key" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "I have stored it" }).click();
  await expect(page.getByRole("rowheader", { name })).toBeVisible();

  const overflow = (selector: string) =>
    page.locator(selector).first().evaluate((element) => element.scrollWidth - element.clientWidth);
  await page.setViewportSize({ width: 1366, height: 900 });
  expect(await overflow(".table-wrap"), "the keys table fits a wide window").toBeLessThanOrEqual(1);
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ["/", "/usage"]) {
    await page.goto(path);
    await expect(page.locator("body[data-hydrated]")).toBeAttached();
    expect(await overflow("html"), `${path} fits a phone`).toBeLessThanOrEqual(1);
  }
});
