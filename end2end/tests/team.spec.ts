import { expect, test, type Page } from "@playwright/test";

const password = "correct horse battery";

async function hydrated(page: Page, javaScriptEnabled: boolean) {
  const marker = page.locator("body[data-hydrated]");
  if (javaScriptEnabled) await expect(marker).toBeAttached();
  else await expect(marker).toHaveCount(0);
}

test("an owner invites a member, who joins with the code; the owner removes them", async ({ page, browser }, testInfo) => {
  const js = testInfo.project.use.javaScriptEnabled !== false;
  const owner = `owner-${Date.now()}-${testInfo.project.name}@example.com`;
  const member = `member-${Date.now()}-${testInfo.project.name}@example.com`;

  // Inviting shows the code once, so it needs JavaScript: the owner invites from such a page.
  const inviter = await browser.newPage({ javaScriptEnabled: true });
  await inviter.goto("/signup");
  await hydrated(inviter, true);
  await inviter.getByLabel("Email").fill(owner);
  await inviter.getByLabel("Password").fill(password);
  await inviter.getByLabel("Company or project name").fill("Babbage & Co");
  await inviter.getByRole("button", { name: "Create account" }).click();
  await expect(inviter).toHaveURL("/");
  await inviter.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Team", exact: true }).click();
  await expect(inviter.getByRole("heading", { name: "Team", exact: true })).toBeVisible();
  await expect(inviter.getByText("No invitations waiting.")).toBeVisible();
  await hydrated(inviter, true);

  await inviter.getByLabel("Their email").fill(member);
  await inviter.getByRole("button", { name: "Invite" }).click();
  const dialog = inviter.getByRole("dialog", { name: "Copy the invitation code" });
  await expect(dialog).toBeVisible();
  const code = (await dialog.getByTestId("new-secret").textContent())!.trim();
  expect(code).toMatch(/^invite_[0-9A-Za-z]{32}$/);
  await expect(dialog.getByText(`For ${member}`)).toBeVisible();
  await dialog.getByRole("button", { name: "I have sent it" }).click();
  await expect(dialog).toBeHidden();
  await expect(inviter.getByRole("row", { name: new RegExp(member) })).toBeVisible();
  await inviter.reload();
  expect(await inviter.content()).not.toContain(code);
  await inviter.close();

  // The member finds the Join page from the login page; a mistyped code is explained.
  const joiner = await browser.newPage({ javaScriptEnabled: js });
  await joiner.goto("/login");
  await joiner.getByRole("link", { name: "Join with your code" }).click();
  await expect(joiner).toHaveURL("/join");
  await hydrated(joiner, js);
  await joiner.getByLabel("Your email").fill(member);
  await joiner.getByLabel("Invitation code").fill(code.slice(0, -1) + (code.endsWith("x") ? "y" : "x"));
  await joiner.getByLabel("Choose a password").fill("the member's own horse");
  await joiner.getByRole("button", { name: "Join the team" }).click();
  await expect(joiner.getByRole("alert")).toContainText("This invitation code is not valid for this email");
  await joiner.getByLabel("Your email").fill(member);
  await joiner.getByLabel("Invitation code").fill(code);
  await joiner.getByLabel("Choose a password").fill("the member's own horse");
  await joiner.getByRole("button", { name: "Join the team" }).click();
  await expect(joiner).toHaveURL("/");
  await expect(joiner.getByRole("heading", { name: "Overview" })).toBeVisible();
  await joiner.goto("/team");
  await expect(joiner.getByRole("rowheader", { name: `${member} (you)` })).toBeVisible();
  await expect(joiner.getByRole("rowheader", { name: owner })).toBeVisible();
  await expect(joiner.getByText("Only the account's owner can invite or remove members.")).toBeVisible();
  await expect(joiner.getByText("Remove…")).toHaveCount(0);

  // The owner removes the member after confirming; the member is signed out at once.
  await page.goto("/login?next=/team");
  await hydrated(page, js);
  await page.getByLabel("Email").fill(owner);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL("/team");
  await hydrated(page, js);
  const row = page.getByRole("row", { name: new RegExp(member) });
  await row.getByText("Remove…").click();
  await page.screenshot({ path: testInfo.outputPath("team.png"), fullPage: true });
  await row.getByRole("button", { name: `Remove ${member} from the team` }).click();
  await expect(page.getByRole("rowheader", { name: member })).toHaveCount(0);
  await expect(page.getByRole("rowheader", { name: owner })).toBeVisible();

  await joiner.goto("/keys");
  await expect(joiner).toHaveURL("/login?next=/keys");
  await joiner.close();
});
