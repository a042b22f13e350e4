import { test, expect, Request } from '@playwright/test';
import { demoToken, notifyUser, startHub, stopHub, waitHealthy } from './servers';

// A cookie session across origins, as an app with its own sign-in uses the
// hub (--auth-cookie): app A signs the user in and sets an HttpOnly cookie;
// the page streams from hub B on another port with that cookie and no token
// in any script; without the cookie, B answers 401 and the hook stops.
test('a page signed in by a cookie streams from a hub on another origin, with no token in any script', async ({ page, context }) => {
  test.setTimeout(90_000);
  const [pa, pb] = [3141, 3142];
  const secret = 'e2e-session-secret-0123456789abcdef';
  const cookie = ['--auth-cookie', 'sse_session'];
  const hubArgs = ['--demo', 'false', ...cookie, '--cors-origins', `http://127.0.0.1:${pa}`];
  const app = startHub(pa, secret, [...cookie, '--demo-hub-url', `http://127.0.0.1:${pb}`]);
  let hub = startHub(pb, secret, hubArgs);
  try {
    await waitHealthy(pa);
    await waitHealthy(pb);
    const streams: Request[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(`http://127.0.0.1:${pb}/api/sse/stream`)) streams.push(r);
    });

    await page.goto(`http://127.0.0.1:${pa}/session-demo`);
    await page.getByTestId('session-user-input').fill('cookie-user');
    await page.getByTestId('session-sign-in').click();
    await expect(page.getByTestId('session-user')).toHaveText('cookie-user');
    await expect(page.getByTestId('session-hub')).toHaveText(`http://127.0.0.1:${pb}/api/sse/stream`);
    await expect(page.getByTestId('connection-state')).toHaveText('open');

    // Published on B (by a publisher's token, in a header), shown on A's page.
    const publisher = await demoToken(pa, 'announcer', 'publisher');
    expect(await notifyUser(pb, publisher, 'cookie-user', 'through the cookie')).toBe(200);
    await expect(page.getByTestId('last-event')).toContainText('through the cookie');

    // No token anywhere a script can reach; the stream carried none either.
    expect(await page.evaluate(() => document.cookie)).not.toContain('sse_session');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    expect(stored).not.toContain('eyJ');
    expect(await page.content()).not.toContain('eyJ');
    expect(streams.length).toBeGreaterThan(0);
    for (const r of streams) {
      expect(r.url()).not.toContain('token=');
      expect(await r.headerValue('authorization')).toBeNull();
    }
    const cookies = await context.cookies(`http://127.0.0.1:${pb}`);
    const session = cookies.find((c) => c.name === 'sse_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Lax');

    // The cookie is no credential for publishing, even from the page itself.
    const status = await page.evaluate(async (url) => {
      const res = await fetch(url, {
        method: 'POST', credentials: 'include',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event: 'x', data: {}, target: { all: true } }),
      });
      return res.status;
    }, `http://127.0.0.1:${pb}/api/sse/publish`);
    expect(status).toBe(401);

    // The cookie is removed (expired, or cleared elsewhere) and B restarts:
    // the reconnect is refused with 401 and the hook stops, as for any
    // refused credential.
    await context.clearCookies();
    await stopHub(hub);
    hub = startHub(pb, secret, hubArgs);
    await waitHealthy(pb);
    await expect(page.getByTestId('connection-state')).toHaveText('failed', { timeout: 30_000 });
    await expect(page.getByTestId('connection-error')).toContainText('unauthorized (401)');
    const tries = streams.length;
    await page.waitForTimeout(3_000);
    expect(streams.length).toBe(tries);

    // Signing in again sets a new cookie and streams; signing out clears it.
    await page.getByTestId('session-sign-out').click();
    await page.getByTestId('session-sign-in').click();
    await expect(page.getByTestId('connection-state')).toHaveText('open');
    await page.getByTestId('session-sign-out').click();
    await expect(page.getByTestId('session-sign-in')).toBeVisible();
    await expect.poll(async () => (await context.cookies(`http://127.0.0.1:${pa}`)).some((c) => c.name === 'sse_session')).toBe(false);
  } finally {
    app.kill('SIGKILL');
    hub.kill('SIGKILL');
  }
});
