// Drives the sumprimes web page in Debian's headless Chromium:
//   node scripts/browser/page.test.mjs <base URL> <screenshot.png> [API key]
// With a key: first submits without it and expects the 401 shown, then
// fills it in. Submits a range and waits for the exact sum, shows an input
// error, and cancels a long job. Exits non-zero on the first failure.
import { launch } from "./launch.mjs";

const [url, screenshot, key] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node page.test.mjs <base URL> <screenshot.png>");
  process.exit(2);
}

const { browser, fail } = await launch("browser test");
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
  const statusIs = (want) => page.waitForFunction(
    (w) => document.getElementById("status").textContent === w, want, { timeout: 60000 });
  await page.goto(url);

  if (key) {
    await page.fill("#a", "1");
    await page.fill("#b", "10");
    await page.click("#submit");
    await page.waitForFunction(() => document.getElementById("error").textContent.includes("API key"), null, { timeout: 10000 });
    await page.fill("#key", key);
  }
  await page.fill("#a", "1");
  await page.fill("#b", "1000000000000");
  await page.click("#submit");
  await statusIs("FINISHED");
  const sum = await page.textContent("#sum");
  if (sum !== "18435588552550705911377") await fail(`sum shown ${sum}`);
  await page.screenshot({ path: screenshot, fullPage: true });

  await page.fill("#a", "5");
  await page.fill("#b", "1");
  await page.click("#submit");
  await page.waitForFunction(() => document.getElementById("error").textContent.includes("must not exceed"), null, { timeout: 10000 });

  await page.fill("#a", "1");
  await page.fill("#b", "10000000000000");
  await page.click("#submit");
  await statusIs("IN_PROGRESS");
  await page.click("#cancel");
  await statusIs("CANCELLED");

  console.log("browser test passed; screenshot: " + screenshot);
  await browser.close();
} catch (e) {
  await fail(e.stack || String(e));
}
