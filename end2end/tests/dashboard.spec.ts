import { test, expect } from '@playwright/test';
import { notification, send, signIn } from './helpers';

test('an admin broadcast reaches the list and a toast', async ({ page }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'ada', 'admin');
  await send(page, 'broadcast', 'hello everyone from ada');
  await expect(notification(page, 'hello everyone from ada')).toHaveCount(1);
  await expect(page.getByTestId('toast').filter({ hasText: 'hello everyone from ada' })).toBeVisible();
  await expect(page.getByTestId('send-result')).toContainText('broadcast: delivered to');
});

test('a message to user A shows only for A', async ({ browser }) => {
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  const a = await ctxA.newPage();
  const b = await ctxB.newPage();
  await a.goto('/sse-demo');
  await b.goto('/sse-demo');
  await signIn(a, 'alice');
  await signIn(b, 'bob');
  await send(a, 'user', 'private to alice');
  await expect(notification(a, 'private to alice')).toHaveCount(1);
  // B sends something to itself; once that arrived, A's message would have too.
  await send(b, 'user', 'bob marker');
  await expect(notification(b, 'bob marker')).toHaveCount(1);
  await expect(notification(b, 'private to alice')).toHaveCount(0);
  await expect(notification(a, 'bob marker')).toHaveCount(0);
  // A plain user is not offered sending to someone else or to everyone.
  await expect(b.getByTestId('send-to')).toHaveCount(0);
  await expect(b.getByTestId('send-to-hint')).toContainText('only admins send to other users');
  await expect(b.getByTestId('send-broadcast')).toBeDisabled();
  await expect(b.getByTestId('send-system')).toBeDisabled();
  await ctxA.close();
  await ctxB.close();
});

test('the event filter keeps unselected types away', async ({ page }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'filterer');
  const before = await page.getByTestId('connection-id').textContent();
  await page.getByTestId('filter-progress').uncheck();
  // The connection is reopened with the new filter.
  await expect(page.getByTestId('connection-id')).not.toHaveText(before ?? '');
  await expect(page.getByTestId('connection-state')).toHaveText('open');
  await send(page, 'progress', 'should be filtered');
  await send(page, 'success', 'filter marker');
  await expect(notification(page, 'filter marker')).toHaveCount(1);
  await expect(page.locator('[data-testid="event-log-item"][data-event="progress"]')).toHaveCount(0);
  await page.getByTestId('filter-progress').check();
  await expect(page.getByTestId('connection-state')).toHaveText('open');
  await send(page, 'progress', 'now visible');
  await expect(page.locator('[data-testid="event-log-item"][data-event="progress"]').first()).toBeVisible();
});

test('a job shows a live progress bar that completes', async ({ page }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'worker');
  await send(page, 'job', 'Nightly export');
  const job = page.getByTestId('job').first();
  await expect(job).toBeVisible();
  const bar = job.getByTestId('job-progress');
  await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow'))).toBeGreaterThan(0);
  await expect(job.getByTestId('job-status')).toHaveText('completed', { timeout: 15_000 });
  await expect(bar).toHaveAttribute('aria-valuenow', '100');
  await expect(notification(page, 'finished: success')).toHaveCount(1);
});

test('admins see live stats that change when a tab connects; users get none', async ({ browser, request }) => {
  const ctx = await browser.newContext();
  const admin = await ctx.newPage();
  await admin.goto('/sse-demo');
  await signIn(admin, 'root', 'admin');
  const total = admin.getByTestId('stats-total-connections');
  await expect(total).not.toHaveText('0');
  await admin.waitForTimeout(1500); // let the replaced guest connection go
  const before = Number(await total.textContent());
  const otherCtx = await browser.newContext();
  const other = await otherCtx.newPage();
  await other.goto('/sse-demo');
  await signIn(other, 'second-tab');
  await expect.poll(async () => Number(await total.textContent())).toBeGreaterThan(before);
  const after = Number(await total.textContent());
  await expect(admin.locator('[data-testid="stats-user-row"][data-user="second-tab"]')).toBeVisible();
  await expect(admin.getByTestId('stats-chart')).toBeVisible();
  await expect(other.getByTestId('stats-panel')).toHaveCount(0);
  const tok = await (await request.post('/api/auth/demo-token', { data: { userId: 'nosy', role: 'user' } })).json();
  const res = await request.get('/api/sse/stats', { headers: { Authorization: `Bearer ${tok.token}` } });
  expect(res.status()).toBe(403);
  expect((await res.json()).code).toBe('forbidden');
  await otherCtx.close();
  await expect.poll(async () => Number(await total.textContent())).toBeLessThan(after);
  await ctx.close();
});

test('topics subscribed at runtime deliver topic events', async ({ page, request }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'reader');
  await page.getByTestId('topic-input').fill('news');
  await page.getByTestId('topic-subscribe').click();
  await expect(page.getByTestId('topics-list')).toHaveText('news');
  const tok = await (await request.post('/api/auth/demo-token', { data: { userId: 'editor', role: 'publisher' } })).json();
  const res = await request.post('/api/sse/publish', {
    headers: { Authorization: `Bearer ${tok.token}` },
    data: { event: 'notification', data: { message: 'topic news item', level: 'info' }, target: { topic: 'news' } },
  });
  expect(res.status()).toBe(200);
  await expect(notification(page, 'topic news item')).toHaveCount(1);
});

test('screenshot of the dashboard as a test artifact', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 1280, height: 1100 });
  await page.goto('/sse-demo');
  await signIn(page, 'showcase', 'admin');
  await send(page, 'job', 'Report');
  await send(page, 'success', 'Backup finished');
  await send(page, 'system', 'Maintenance at 02:00');
  await expect(page.getByTestId('job').first()).toBeVisible();
  await page.waitForTimeout(1500);
  const path = testInfo.outputPath('dashboard.png');
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach('dashboard', { path, contentType: 'image/png' });
});

test('two tabs of one user share one upstream connection and both show events', async ({ browser, request }) => {
  const ctx = await browser.newContext();
  const tab1 = await ctx.newPage();
  const tab2 = await ctx.newPage();
  await tab1.goto('/sse-demo');
  await signIn(tab1, 'sharer');
  // The second tab of this browser signs in as the same user by itself.
  await tab2.goto('/sse-demo');
  await expect(tab2.getByTestId('user')).toHaveText('Signed in as sharer (user)');
  await expect(tab2.getByTestId('connection-state')).toHaveText('open');
  const admin = await (await request.post('/api/auth/demo-token', { data: { userId: 'auditor', role: 'admin' } })).json();
  const sharerConnections = async () => {
    const stats = await (await request.get('/api/sse/stats', { headers: { Authorization: `Bearer ${admin.token}` } })).json();
    const row = stats.users.find((u: { userId: string }) => u.userId === 'sharer');
    return row ? row.connections : 0;
  };
  // The replaced guest connections go away; one upstream stays for both tabs.
  await expect.poll(sharerConnections, { timeout: 10_000 }).toBe(1);
  const tok = await (await request.post('/api/auth/demo-token', { data: { userId: 'announcer', role: 'publisher' } })).json();
  const publish = async (message: string) => {
    const res = await request.post('/api/sse/publish', {
      headers: { Authorization: `Bearer ${tok.token}` },
      data: { event: 'notification', data: { message, level: 'info' }, target: { user: 'sharer' } },
    });
    expect(res.status()).toBe(200);
  };
  await publish('to every tab');
  await expect(notification(tab1, 'to every tab')).toHaveCount(1);
  await expect(notification(tab2, 'to every tab')).toHaveCount(1);
  // Whichever tab led, closing the first leaves the second connected.
  await tab1.close();
  await expect(tab2.getByTestId('connection-state')).toHaveText('open', { timeout: 15_000 });
  await publish('after the first tab closed');
  await expect(notification(tab2, 'after the first tab closed')).toHaveCount(1);
  await expect.poll(sharerConnections, { timeout: 10_000 }).toBe(1);
  await ctx.close();
});
