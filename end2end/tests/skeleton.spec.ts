import { test, expect } from '@playwright/test';

// Proves the whole pipeline: SSR page, WASM hydration, the use_sse hook's
// EventSource, and the hub streaming live events into the page.
test('the dashboard hydrates and the events-received count climbs', async ({ page }) => {
  await page.goto('/sse-demo');
  await expect(page.getByRole('heading', { name: 'Live dashboard' })).toBeVisible();
  // The demo's once-a-second system ticks are counted apart.
  const ticks = async () => Number(/\d+/.exec((await page.getByTestId('ticks-received').textContent()) ?? '0')?.[0]);
  await expect(page.getByTestId('connection-state')).toHaveText('open');
  await expect.poll(ticks, { timeout: 15_000 }).toBeGreaterThan(1);
  const first = await ticks();
  await expect.poll(ticks, { timeout: 15_000 }).toBeGreaterThan(first + 1);
  await expect(page.getByTestId('user')).toContainText('Signed in as guest-');
});

test('disconnect stops the count and connect resumes it', async ({ page }) => {
  await page.goto('/sse-demo');
  const state = page.getByTestId('connection-state');
  await expect(state).toHaveText('open');
  await page.getByTestId('disconnect').click();
  await expect(state).toHaveText('closed');
  const count = page.getByTestId('events-received');
  const frozen = Number(await count.textContent());
  await page.waitForTimeout(1500);
  expect(Number(await count.textContent())).toBe(frozen);
  await page.getByTestId('connect').click();
  await expect(state).toHaveText('open');
  await expect.poll(async () => Number(await count.textContent())).toBeGreaterThan(frozen);
});
