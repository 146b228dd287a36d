// Debian's headless Chromium as the browser tests drive it, and how they
// give up: fail closes the browser and exits non-zero with the reason.
import { chromium } from "playwright-core";

export async function launch(name) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const fail = async (message) => {
    await browser.close();
    console.error(`${name} failed: ${message}`);
    process.exit(1);
  };
  return { browser, fail };
}
