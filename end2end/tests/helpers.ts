import { expect, Page } from '@playwright/test';

/** Signs in through the dashboard's form and waits for an open stream. */
export async function signIn(page: Page, user: string, role: 'user' | 'publisher' | 'admin' = 'user') {
  await expect(page.getByTestId('user')).toContainText('Signed in as guest-');
  await page.getByTestId('sign-in-user').fill(user);
  await page.getByTestId('sign-in-role').selectOption(role);
  await page.getByTestId('sign-in-submit').click();
  await expect(page.getByTestId('user')).toContainText(`Signed in as ${user} (${role})`);
  await expect(page.getByTestId('connection-state')).toHaveText('open');
  await expect(page.getByTestId('connection-id')).toContainText('connection ');
}

/** Fills the send panel and presses the button of `kind`. */
export async function send(page: Page, kind: string, message = '', to = '') {
  // Only admins get a recipient field.
  if (await page.getByTestId('send-to').count()) await page.getByTestId('send-to').fill(to);
  await page.getByTestId('send-message').fill(message);
  await page.getByTestId(`send-${kind}`).click();
}

export function notification(page: Page, text: string) {
  return page.getByTestId('notification-item').filter({ hasText: text });
}
