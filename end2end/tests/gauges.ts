import { expect, type Locator } from "@playwright/test";

/// Waits until a per-minute gauge has at least ten seconds left in its window. The bucket is a
/// clock-aligned minute, so calls made just before it rolls over would be counted in a window
/// that ends before the gauge shows them.
export async function awaitFreshMinute(gauge: Locator) {
  await expect(gauge).toContainText(/resets in ([1-5]\d|60) s/, { timeout: 15000 });
}
