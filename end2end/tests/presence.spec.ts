import { test, expect, Page } from '@playwright/test';
import { signIn } from './helpers';

async function joinNews(page: Page, user: string) {
  await page.goto('/sse-demo');
  await signIn(page, user);
  await page.getByTestId('topic-input').fill('news');
  await page.getByTestId('topic-subscribe').click();
  await expect(page.getByTestId('topics-list')).toHaveText('news');
}

test('who is here: the panel lists who is in a topic and follows them coming and going', async ({ browser }) => {
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  const ann = await ctxA.newPage();
  const bob = await ctxB.newPage();
  await joinNews(bob, 'bob-p');
  const line = bob.locator('[data-testid="presence-topic"][data-topic="news"]');
  await expect(line).toContainText('bob-p');
  await joinNews(ann, 'ann-p');
  await expect(line).toContainText('ann-p, bob-p (2)', { timeout: 10_000 });
  await ctxA.close();
  await expect(line).toHaveText('news: bob-p (1)', { timeout: 10_000 });
  await ctxB.close();
});
