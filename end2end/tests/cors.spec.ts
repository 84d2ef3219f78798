import { expect, test } from "@playwright/test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

// A customer's own site: a blank page served from another port, so another origin to the
// browser (on loopback, as keystile is, so the browser's local-network checks allow the call).
let site: Server;
let siteURL: string;

test.beforeAll(async () => {
  site = createServer((_, response) => {
    response.writeHead(200, { "Content-Type": "text/html" });
    response.end("<!doctype html><title>A customer's front-end</title>");
  });
  await new Promise<void>((listening) => site.listen(0, "127.0.0.1", listening));
  siteURL = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
});

test.afterAll(() => new Promise<void>((closed) => site.close(() => closed())));

// The page calls the public API and reads its rate-limit headers, as seed 001's front-end
// example does. The browser sends a preflight first (the proxy header the test project adds to
// every request is not a simple one), which keystile answers itself.
test("a page on another site reads the API's rate-limit headers", async ({ page, baseURL }, testInfo) => {
  test.skip(testInfo.project.use.javaScriptEnabled === false, "a page calls the API with JavaScript");
  await page.goto(siteURL);
  const seen = await page.evaluate(async (api) => {
    const response = await fetch(`${api}/v1/jurisdictions`);
    return {
      status: response.status,
      limit: response.headers.get("X-RateLimit-Limit"),
      remaining: response.headers.get("X-RateLimit-Remaining"),
      policy: response.headers.get("X-RateLimit-Policy"),
      upgrade: response.headers.get("X-Upgrade-URL"),
    };
  }, baseURL);
  expect(seen).toEqual({
    status: 200,
    limit: "10",
    remaining: "9",
    policy: "tier=public;limit=10;window=hour",
    upgrade: "https://igregulator.io/pricing",
  });
});
