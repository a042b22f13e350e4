import { test, expect } from '@playwright/test';
import { signIn } from './helpers';

test('the stream carries the token in a header, never in the URL', async ({ page }) => {
  const streams: { url: string; auth: string | undefined; lastEventId: string | undefined }[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/sse/stream')) {
      const h = r.headers();
      streams.push({ url: r.url(), auth: h['authorization'], lastEventId: h['last-event-id'] });
    }
  });
  await page.goto('/sse-demo');
  await signIn(page, 'headed');
  expect(streams.length).toBeGreaterThan(0);
  for (const s of streams) {
    expect(s.url).not.toMatch(/[?&](token|lastEventId)=/);
    expect(s.auth).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  }
  // Signing in again reconnects from the last id, sent as a header.
  const before = streams.length;
  await page.getByTestId('disconnect').click();
  await expect(page.getByTestId('connection-state')).toHaveText('closed');
  await page.getByTestId('connect').click();
  await expect(page.getByTestId('connection-state')).toHaveText('open');
  const resumed = streams.slice(before);
  expect(resumed.length).toBeGreaterThan(0);
  expect(resumed[resumed.length - 1].lastEventId).toMatch(/^\d+-\d+$/);
});

test('a "*" listener hears every event, even of a type the page has never heard of', async ({ page, request }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'curious');
  const tok = await (await request.post('/api/auth/demo-token', { data: { userId: 'shop', role: 'publisher' } })).json();
  const res = await request.post('/api/sse/publish', {
    headers: { Authorization: `Bearer ${tok.token}` },
    data: { event: 'order.shipped', data: { order: 17 }, target: { user: 'curious' } },
  });
  expect(res.status()).toBe(200);
  const row = page.locator('[data-testid="event-log-item"][data-event="order.shipped"]');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('"order":17');
});

test('a topic nothing grants is refused in words, and the public one works', async ({ page }) => {
  await page.goto('/sse-demo');
  await signIn(page, 'outsider');
  await expect(page.getByTestId('topic-grants')).toHaveText('You may subscribe to: news, demo.*, user.outsider.*');
  await page.getByTestId('topic-input').fill('secret');
  await page.getByTestId('topic-subscribe').click();
  await expect(page.getByTestId('topic-error')).toContainText('not allowed on secret');
  await expect(page.getByTestId('topics-list')).not.toContainText('secret');
  await page.getByTestId('topic-input').fill('news');
  await page.getByTestId('topic-subscribe').click();
  await expect(page.getByTestId('topics-list')).toHaveText('news');
  await expect(page.getByTestId('topic-error')).toHaveText('');
});

test('no request the dashboard makes carries the token in its URL', async ({ page }) => {
  const urls: string[] = [];
  const tokens: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  page.on('response', async (r) => {
    if (r.url().endsWith('/api/auth/demo-token') && r.ok()) tokens.push((await r.json()).token);
  });
  await page.goto('/sse-demo');
  await signIn(page, 'watcher', 'admin');
  await page.getByTestId('topic-input').fill('news');
  await page.getByTestId('topic-subscribe').click();
  await expect(page.getByTestId('topics-list')).toHaveText('news');
  await page.getByTestId('send-message').fill('hello');
  await page.getByTestId('send-broadcast').click();
  await expect(page.getByTestId('send-result')).toContainText('delivered');
  await page.getByTestId('disconnect').click();
  await page.getByTestId('connect').click();
  await expect(page.getByTestId('connection-state')).toHaveText('open');
  await page.waitForTimeout(1500); // stats polling and the rest
  expect(tokens.length).toBeGreaterThan(0);
  expect(urls.length).toBeGreaterThan(5);
  for (const url of urls) {
    for (const token of tokens) {
      expect(url).not.toContain(token);
      expect(url).not.toContain(token.split('.')[2]);
    }
  }
});
