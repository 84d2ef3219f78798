import { expect, type Page } from "@playwright/test";

/** Signs up `email` on the live (hydrated) sign-up page; the new account's Overview is shown. */
export async function signUpLive(page: Page, email: string) {
  await page.goto("/signup");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL("/");
}
