// Drives the operator's console (the views below the form) in Debian's
// headless Chromium:
//   node scripts/browser/console.test.mjs <base URL> <screenshot dir> <admin key> <failed job id> <its sum once replayed>
// From the page alone: find the failed job among the jobs, see why it
// failed, find its dead letter and replay it, see it finish; see the
// workers compute a long job the form submits, cancel it; see the overview. A screenshot of each view lands in the dir.
import { launch } from "./launch.mjs";

const [url, shots, key, failed, want] = process.argv.slice(2);
if (!url || !shots || !key || !failed || !want) {
  console.error("usage: node console.test.mjs <base URL> <screenshot dir> <admin key> <failed job id> <sum>");
  process.exit(2);
}

const { browser, fail } = await launch("console test");
const wait = { timeout: 60000 };
// The long job's first progress: its threads run at the OS's lowest
// priority (Background), so while make test's engine tests hold both CPUs
// it can wait past a minute for them (seen on a 2-vCPU Zen 5).
const computing = { timeout: 240000 };
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  await page.goto(url + "#jobs");
  // Without a key the admin views say what they need.
  await page.click("a[data-view=workers]");
  await page.waitForFunction(() => document.getElementById("admin-notice").textContent.includes("API key"), null, wait);
  await page.fill("#key", key);
  await page.dispatchEvent("#key", "change");

  // Jobs: the failed one, with its reason.
  await page.click("a[data-view=jobs]");
  await page.selectOption("#job-status", "FAILED");
  const jobRow = `#jobs tr[data-id="${failed}"]`;
  await page.waitForSelector(`${jobRow} .pill.FAILED`, wait);
  const reason = await page.textContent(`${jobRow} td.error`);
  if (!reason.includes("1000")) await fail(`the failed job's reason shown is ${JSON.stringify(reason)}`);
  await page.screenshot({ path: `${shots}/jobs.png`, fullPage: true });

  // Dead letters: its dead letter, the same reason, a replay button.
  await page.click("a[data-view=dead-letters]");
  const letter = page.locator("#dead-letters tr", { hasText: failed });
  await letter.locator("button.replay").waitFor(wait);
  if (!(await letter.textContent()).includes("1000")) await fail("the dead letter does not show the worker's reason");
  await page.screenshot({ path: `${shots}/dead-letters.png`, fullPage: true });
  await letter.locator("button.replay").click();
  await page.waitForFunction(() => document.getElementById("dl-note").textContent.includes("replayed"), null, wait);
  await letter.locator(".pill.FINISHED").waitFor(wait);
  if (await letter.locator("button.replay").count()) await fail("a finished job still offers a replay");

  // Jobs again: finished, with its sum.
  await page.click("a[data-view=jobs]");
  await page.selectOption("#job-status", "");
  await page.waitForSelector(`${jobRow} .pill.FINISHED`, wait);
  const sum = await page.textContent(`${jobRow} td:nth-child(4)`);
  if (sum !== want) await fail(`the replayed job's sum shown is ${sum}, want ${want}`);

  // Workers: a member of each lane, its partitions with their lag and the
  // speed it measured, and the long job the form submits, computing, with
  // its progress.
  await page.fill("#a", "1");
  await page.fill("#b", "10000000000000000");
  await page.click("#submit");
  await page.click("a[data-view=workers]");
  await page.waitForFunction(() => document.querySelectorAll("#workers tr").length >= 2 &&
    document.getElementById("workers").textContent.includes("lag") &&
    document.getElementById("workers").textContent.includes("the reference's time") &&
    [...document.querySelectorAll("#workers .bar > div")].some((b) => parseFloat(b.style.width) > 0), null, computing);
  await page.screenshot({ path: `${shots}/workers.png`, fullPage: true });
  await page.click("#cancel");
  await page.waitForFunction(() => document.getElementById("status").textContent === "CANCELLED", null, wait);

  // Overview: the failure, the finish and the cancellation counted, the charts drawn.
  await page.click("a[data-view=overview]");
  await page.waitForFunction(() => /1 finished, 1 failed, 1 cancelled/.test(document.getElementById("ended").textContent), null, wait);
  await page.waitForSelector("#chart-rate polyline", wait);
  await page.screenshot({ path: `${shots}/overview.png`, fullPage: true });

  console.log(`console test passed; screenshots in ${shots}`);
  await browser.close();
} catch (e) {
  await fail(e.stack || String(e));
}
