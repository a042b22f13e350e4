import { test, expect } from '@playwright/test';
import { spawn } from 'child_process';
import { notification, send, signIn } from './helpers';
import { demoToken, freePort, notifyUser, startHub, stopHub, waitHealthy } from './servers';

test('kill, 12 s down, restart: a banner in view, then open again within 6 s of the hub answering', async ({ page }) => {
  test.setTimeout(90_000);
  const port = 3111;
  const secret = 'e2e-restart-secret-0123456789abcdef';
  let server = startHub(port, secret);
  try {
    await waitHealthy(port);
    await page.goto(`http://127.0.0.1:${port}/sse-demo`);
    await signIn(page, 'survivor');
    await stopHub(server);
    const badge = page.getByTestId('connection-state');
    await expect(badge).toHaveText('reconnecting');
    const banner = page.getByTestId('connection-banner');
    await expect(banner).toBeVisible();
    await expect(page.getByTestId('banner-text')).toContainText('connection to the hub was lost');
    await expect(page.getByTestId('banner-countdown')).toContainText('Next try in');
    await expect(page.getByTestId('connection-attempts')).toContainText('attempt');
    await expect(page.getByTestId('live-column')).toHaveClass(/stale/);
    // The banner stays in view when the page is scrolled to the bottom.
    await page.mouse.wheel(0, 5000);
    await expect(banner).toBeInViewport();
    await page.waitForTimeout(12_000);
    server = startHub(port, secret);
    await waitHealthy(port);
    const back = Date.now();
    await expect(badge).toHaveText('open', { timeout: 6_000 });
    console.log(`open again ${Date.now() - back} ms after the hub answered`);
    await expect(banner).toBeHidden();
    await expect(page.getByTestId('connection-attempts')).toHaveText('');
    // The restarted node has no history of the old epoch: the page is told
    // and reloads what it shows from the history API.
    await expect(notification(page, 'Some events were missed')).toHaveCount(1);
    await send(page, 'user', 'after restart');
    await expect(notification(page, 'after restart')).toHaveCount(1);
    await page.waitForTimeout(500);
    await expect(notification(page, 'after restart')).toHaveCount(1);
  } finally {
    server.kill('SIGKILL');
  }
});

test('graceful shutdown, 10 s down, restart: open again within 6 s of the hub answering', async ({ page }) => {
  test.setTimeout(90_000);
  const port = 3113;
  const secret = 'e2e-graceful-secret-0123456789abcdef';
  let server = startHub(port, secret);
  try {
    await waitHealthy(port);
    await page.goto(`http://127.0.0.1:${port}/sse-demo`);
    await signIn(page, 'polite');
    await stopHub(server, 'SIGTERM');
    await expect(page.getByTestId('connection-banner')).toBeVisible();
    await page.waitForTimeout(10_000);
    server = startHub(port, secret);
    await waitHealthy(port);
    const back = Date.now();
    await expect(page.getByTestId('connection-state')).toHaveText('open', { timeout: 6_000 });
    console.log(`open again ${Date.now() - back} ms after a graceful restart`);
  } finally {
    server.kill('SIGKILL');
  }
});

test('a refused token stops retrying with a clear error', async ({ page }) => {
  const port = 3112;
  const server = startHub(port, 'e2e-refused-secret-0123456789abcdef');
  try {
    await waitHealthy(port);
    await page.goto(`http://127.0.0.1:${port}/sse-demo`);
    await signIn(page, 'expiring');
    // Restart with another secret and no demo tokens: the old token is now
    // invalid (401) and the page's refresh callback cannot get a new one.
    await stopHub(server);
    const other = startHub(port, 'a-completely-different-secret-0123456789', ['--demo', 'false']);
    try {
      await waitHealthy(port);
      await expect(page.getByTestId('connection-state')).toHaveText('failed', { timeout: 30_000 });
      await expect(page.getByTestId('connection-error')).toContainText('unauthorized (401)');
    } finally {
      other.kill('SIGKILL');
    }
  } finally {
    server.kill('SIGKILL');
  }
});

test('with Redis, events published while the node was down arrive exactly once', async ({ page }) => {
  test.setTimeout(90_000);
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const secret = 'e2e-redis-secret-0123456789abcdef';
  const broker = ['--broker', `redis://127.0.0.1:${redisPort}/0`];
  const [a, b] = [3121, 3122];
  let nodeA = startHub(a, secret, broker);
  const nodeB = startHub(b, secret, broker);
  try {
    await waitHealthy(a);
    await waitHealthy(b);
    await page.goto(`http://127.0.0.1:${a}/sse-demo`);
    await signIn(page, 'survivor');
    await stopHub(nodeA);
    await expect(page.getByTestId('connection-state')).toContainText('reconnecting');
    // Published on node B while node A is down.
    const token = await demoToken(b, 'announcer', 'publisher');
    for (const n of [1, 2, 3]) {
      expect(await notifyUser(b, token, 'survivor', `missed ${n}`)).toBe(200);
    }
    nodeA = startHub(a, secret, broker);
    await waitHealthy(a);
    await expect(page.getByTestId('connection-state')).toHaveText('open', { timeout: 30_000 });
    for (const n of [1, 2, 3]) {
      await expect(notification(page, `missed ${n}`)).toHaveCount(1);
    }
    await page.waitForTimeout(1000);
    for (const n of [1, 2, 3]) {
      await expect(notification(page, `missed ${n}`)).toHaveCount(1);
    }
    await expect(notification(page, 'Some events were missed')).toHaveCount(0);
  } finally {
    nodeA.kill('SIGKILL');
    nodeB.kill('SIGKILL');
    redis.kill('SIGKILL');
  }
});

test('an expiring token is refreshed through the callback and no event is lost', async ({ page }) => {
  test.setTimeout(60_000);
  const port = 3131;
  const server = startHub(port, 'e2e-refresh-secret-0123456789abcdef', ['--demo-token-ttl-secs', '8']);
  try {
    await waitHealthy(port);
    await page.goto(`http://127.0.0.1:${port}/sse-demo`);
    await signIn(page, 'renewer');
    const token = await demoToken(port, 'announcer', 'publisher');
    // Publish across at least one expiry (tokens live 8 s; streams close 5 s early).
    for (let n = 1; n <= 12; n++) {
      expect(await notifyUser(port, token, 'renewer', `tick ${n}.`)).toBe(200);
      await new Promise((r) => setTimeout(r, 400));
    }
    await expect(page.locator('[data-testid="event-log-item"][data-event="auth.expired"]').first()).toBeAttached();
    for (let n = 1; n <= 12; n++) {
      await expect(notification(page, `tick ${n}.`)).toHaveCount(1);
    }
    await expect(page.getByTestId('connection-state')).toHaveText('open');
    await expect(page.getByTestId('user')).toContainText('Signed in as renewer');
  } finally {
    server.kill('SIGKILL');
  }
});
