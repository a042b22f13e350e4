import { test, expect } from '@playwright/test';
import { notification, send, signIn } from './helpers';
import { startHub, stopHub, waitHealthy } from './servers';

test('retry now reconnects at once, well before the next scheduled try', async ({ page }) => {
  test.setTimeout(60_000);
  await page.goto('/sse-demo');
  await signIn(page, 'impatient');
  // The hub becomes unreachable for this page: every stream request fails.
  await page.route('**/api/sse/stream**', (route) => route.abort());
  await page.getByTestId('disconnect').click();
  await page.getByTestId('connect').click();
  await expect(page.getByTestId('connection-banner')).toBeVisible();
  // Wait for a scheduled try at least 3 s away, then bring the hub back.
  const countdown = page.getByTestId('banner-countdown');
  await expect
    .poll(async () => Number(/Next try in (\d+) s/.exec((await countdown.textContent()) ?? '')?.[1] ?? 0), { timeout: 45_000, intervals: [100] })
    .toBeGreaterThanOrEqual(3);
  await page.unroute('**/api/sse/stream**');
  const start = Date.now();
  await page.getByTestId('retry-now').click();
  await expect(page.getByTestId('connection-state')).toHaveText('open', { timeout: 1_500 });
  expect(Date.now() - start).toBeLessThan(1_500);
});

test('the identity is kept per browser, shared by tabs, and sign out makes a new guest', async ({ browser }) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto('/sse-demo');
  await signIn(page, 'keeper', 'publisher');
  await page.reload();
  await expect(page.getByTestId('user')).toHaveText('Signed in as keeper (publisher)');
  const tab = await ctx.newPage();
  await tab.goto('/sse-demo');
  await expect(tab.getByTestId('user')).toHaveText('Signed in as keeper (publisher)');
  await expect(tab.getByTestId('connection-state')).toHaveText('open');
  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('user')).toContainText('Signed in as guest-');
  await page.reload();
  await expect(page.getByTestId('user')).toContainText('Signed in as guest-');
  await ctx.close();
});

test('system ticks stay out of the log and the count unless asked for', async ({ page }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'reader-t');
  const ticks = page.getByTestId('ticks-received');
  await expect.poll(async () => Number(/\d+/.exec((await ticks.textContent()) ?? '0')?.[0]), { timeout: 5_000 }).toBeGreaterThan(1);
  await expect(page.locator('[data-testid="event-log-item"][data-event="metrics"]')).toHaveCount(0);
  const counted = Number(await page.getByTestId('events-received').textContent());
  await send(page, 'success', 'counted');
  await expect(page.getByTestId('events-received')).toHaveText(String(counted + 1));
  await page.getByTestId('show-ticks').check();
  await expect(page.locator('[data-testid="event-log-item"][data-event="metrics"]').first()).toBeVisible({ timeout: 5_000 });
});

test('the progress demo finishes what it starts', async ({ page }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'worker');
  await send(page, 'progress', 'Crunching');
  const job = page.getByTestId('job').first();
  await expect(job).toContainText('Crunching');
  await expect(job).toHaveClass(/done/, { timeout: 10_000 });
  await expect(job).toContainText('finished: success');
});

test('Enter sends from the message field and subscribes from the topic field', async ({ page }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'typist');
  await page.getByTestId('send-message').fill('sent with Enter');
  await page.getByTestId('send-message').press('Enter');
  await expect(notification(page, 'sent with Enter')).toHaveCount(1);
  await page.getByTestId('topic-input').fill('news');
  await page.getByTestId('topic-input').press('Enter');
  await expect(page.getByTestId('topics-list')).toHaveText('news');
});

test('the send result shows next to the buttons, in view at 1280x800', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto('/sse-demo');
  await signIn(page, 'looker');
  await page.getByTestId('send-success').click();
  await expect(page.getByTestId('send-result')).toContainText('delivered');
  await expect(page.getByTestId('send-result')).toBeInViewport();
});

test('/favicon.ico leads to the icon', async ({ request }) => {
  const res = await request.get('/favicon.ico');
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toContain('image/svg+xml');
});

for (const [name, width, height] of [['desktop', 1280, 800], ['phone', 390, 844]] as const) {
  test(`screenshot at ${width}x${height} (${name}) as a test artifact`, async ({ page }, testInfo) => {
    await page.setViewportSize({ width, height });
    await page.goto('/sse-demo');
    await signIn(page, `shot-${name}`, 'admin');
    await send(page, 'job', 'Report');
    await send(page, 'success', 'Backup finished');
    await page.getByTestId('topic-input').fill('news');
    await page.getByTestId('topic-input').press('Enter');
    await page.waitForTimeout(1500);
    const path = testInfo.outputPath(`dashboard-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    await testInfo.attach(`dashboard-${name}`, { path, contentType: 'image/png' });
  });
}

test('on a phone the log rows are readable and every control is at least 44 px tall', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/sse-demo');
  await signIn(page, 'thumb');
  await send(page, 'success', 'a long enough message to wrap on a phone screen');
  const cell = page.locator('[data-testid="event-log-item"] td.data').first();
  await expect(cell).toBeVisible();
  expect((await cell.boundingBox())!.width).toBeGreaterThan(300);
  const small = await page.evaluate(() => {
    const targets = Array.from(document.querySelectorAll('button, select, input')) as HTMLElement[];
    return targets
      .map((el) => (el instanceof HTMLInputElement && el.type === 'checkbox' ? (el.closest('label') as HTMLElement) ?? el : el))
      .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().height < 44)
      .map((el) => el.outerHTML.slice(0, 80));
  });
  expect(small).toEqual([]);
});

test('the stats chart has axes with units, a round scale, and marks a hub restart', async ({ page }) => {
  test.setTimeout(60_000);
  const port = 3122;
  const secret = 'e2e-chart-secret-0123456789abcdef01';
  let server = startHub(port, secret);
  try {
    await waitHealthy(port);
    await page.goto(`http://127.0.0.1:${port}/sse-demo`);
    await signIn(page, 'charter', 'admin');
    await expect(page.getByTestId('chart-min')).toHaveText('0');
    await expect(page.getByTestId('chart-max')).toHaveText('10');
    await expect(page.locator('.chart figcaption')).toContainText('Deliveries per second');
    await page.waitForTimeout(2500);
    await stopHub(server);
    server = startHub(port, secret);
    await waitHealthy(port);
    await expect(page.getByTestId('connection-state')).toHaveText('open', { timeout: 10_000 });
    await expect(page.getByTestId('chart-restart')).toHaveCount(1, { timeout: 10_000 });
  } finally {
    server.kill('SIGKILL');
  }
});

test('an accessibility scan finds no serious or critical violations', async ({ page }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'a11y', 'admin');
  await page.getByTestId('topic-input').fill('news');
  await page.getByTestId('topic-input').press('Enter');
  await page.waitForTimeout(1500);
  const { default: AxeBuilder } = await import('@axe-core/playwright');
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  expect(serious).toEqual([]);
});

/** Presses Tab until the element with `testid` has the focus. */
async function tabTo(page: import('@playwright/test').Page, testid: string) {
  for (let i = 0; i < 60; i++) {
    if (await page.evaluate((id) => document.activeElement?.getAttribute('data-testid') === id, testid)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${testid}`);
}

test('keyboard only: sign in, send, see the notification', async ({ page }) => {
  await page.goto('/sse-demo');
  await expect(page.getByTestId('user')).toContainText('Signed in as guest-');
  await tabTo(page, 'sign-in-user');
  await page.keyboard.type('keys');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('user')).toContainText('Signed in as keys (user)');
  await expect(page.getByTestId('connection-state')).toHaveText('open');
  await tabTo(page, 'send-message');
  await page.keyboard.type('typed, never clicked');
  await page.keyboard.press('Enter');
  await expect(notification(page, 'typed, never clicked')).toHaveCount(1);
});

test('the curl panel shows commands that work, and notifications show their latency', async ({ page }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'curler');
  const command = (await page.getByTestId('curl-send').textContent()) ?? '';
  expect(command).toContain('/api/sse/demo');
  const { execSync } = await import('child_process');
  const out = execSync(command, { encoding: 'utf8' });
  expect(JSON.parse(out).delivered).toBeGreaterThan(0);
  const item = notification(page, 'hello from curl');
  await expect(item).toHaveCount(1);
  await expect(item.getByTestId('notification-latency')).toContainText('ms after publish');
  expect(await page.getByTestId('curl-stream').textContent()).toContain("curl -N -H 'Authorization: Bearer ");
});

test('a live sparkline shows the events per second this page receives', async ({ page }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'sparky');
  for (let i = 0; i < 5; i++) await send(page, 'success', `burst ${i}`);
  await expect.poll(async () => Number(/\d+/.exec((await page.getByTestId('sparkline-now').textContent()) ?? '0')?.[0]), { timeout: 5_000 }).toBeGreaterThan(0);
  const points = await page.locator('[data-testid="sparkline"] polyline').getAttribute('points');
  expect((points ?? '').split(' ').length).toBeGreaterThan(1);
});
