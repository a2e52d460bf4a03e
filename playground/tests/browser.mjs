// Drives the playground page in Debian's Chromium for e2e/test_playground.py:
//   node browser.mjs URL CASES.json SCREENSHOT.png
// CASES.json: {"config": "...", "cases": [{"name", "token", "path", "config"?, "screenshot"?}]}.
// Prints {"results": [...], "requests": [...], "late_requests": [...], "console_errors": [...]}
// as JSON; the Python test makes the assertions.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const [url, casesFile, screenshot] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(casesFile, 'utf8'));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const requests = [];
const lateRequests = [];
const consoleErrors = [];
let ready = false;
try {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const page = await context.newPage();
  page.on('request', (r) => {
    const entry = { url: r.url(), method: r.method(), type: r.resourceType() };
    requests.push(entry);
    if (ready) lateRequests.push(entry);
  });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  ready = true;

  const results = [];
  let currentConfig = null;
  for (const c of spec.cases) {
    const config = c.config ?? spec.config;
    if (config !== currentConfig) {
      await page.fill('#config', config);
      currentConfig = config;
    }
    await page.fill('#token', c.token ?? '');
    await page.fill('#path', c.path ?? '/api/orders');
    if (c.now !== undefined) {
      await page.check('#clock-override');
      await page.fill('#clock', new Date(c.now * 1000).toISOString().slice(0, 19));
    } else {
      await page.uncheck('#clock-override');
    }
    await page.click('#explain');
    const text = async (sel) => ((await page.locator(sel).count()) ? (await page.locator(sel).first().textContent()).trim() : null);
    results.push({
      name: c.name,
      status: await text('#verdict-status'),
      reason: await text('#verdict-reason'),
      failed_at: await text('#failed-at'),
      summary: await text('#summary'),
      config_status: await text('#config-status'),
      config_error_path: await text('#config-error-path'),
      www_authenticate: await text('#www-authenticate'),
      steps: await page.locator('#steps > li .step-title').allTextContents(),
      failed_steps: await page.locator('#steps > li.fail .step-title').allTextContents(),
      tables: await page.locator('#steps td').allTextContents(),
    });
    if (c.screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  }
  process.stdout.write(JSON.stringify({ results, requests, late_requests: lateRequests, console_errors: consoleErrors }));
} finally {
  await browser.close();
}
