import { test, expect } from '@playwright/test';
import { spawn, ChildProcess } from 'child_process';
import { notification, send, signIn } from './helpers';

// A server of its own, killed and restarted by the test.
const root = `${__dirname}/../..`;
const port = 3111;
const base = `http://127.0.0.1:${port}`;

function startServer(): ChildProcess {
  return spawn(`${root}/target/debug/server`, [
    '--addr', `127.0.0.1:${port}`,
    '--site-root', `${root}/target/site`,
    '--jwt-secret', 'e2e-restart-secret-0123456789abcdef',
    '--demo-tick-ms', '0',
    '--log', 'warn',
  ], { stdio: 'ignore' });
}

async function waitHealthy() {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${base}/api/health`);
      if (r.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not come up');
}

test('kill and restart: reconnecting with growing delays, then open again', async ({ page }) => {
  test.setTimeout(90_000);
  let server = startServer();
  try {
    await waitHealthy();
    await page.goto(`${base}/sse-demo`);
    await signIn(page, 'survivor');
    server.kill('SIGKILL');
    const badge = page.getByTestId('connection-state');
    const delays: number[] = [];
    await expect.poll(async () => {
      const m = /reconnecting in (\d+) ms/.exec((await badge.textContent()) ?? '');
      if (m && delays[delays.length - 1] !== Number(m[1])) delays.push(Number(m[1]));
      return delays.length;
    }, { timeout: 30_000, intervals: [100] }).toBeGreaterThanOrEqual(2);
    expect(delays[1]).toBeGreaterThanOrEqual(delays[0]);
    await expect(page.getByTestId('connection-attempts')).not.toHaveText('attempts: 0');
    server = startServer();
    await waitHealthy();
    await expect(badge).toHaveText('open', { timeout: 30_000 });
    // The restarted node has no history of the old epoch: the hook is told.
    await expect(notification(page, 'no longer in the hub')).toHaveCount(1);
    await send(page, 'user', 'after restart');
    await expect(notification(page, 'after restart')).toHaveCount(1);
    await page.waitForTimeout(500);
    await expect(notification(page, 'after restart')).toHaveCount(1);
  } finally {
    server.kill('SIGKILL');
  }
});

test('a refused token stops retrying with a clear error', async ({ page }) => {
  const server = startServer();
  try {
    await waitHealthy();
    await page.goto(`${base}/sse-demo`);
    await signIn(page, 'expiring');
    // Restart with another secret and no demo tokens: the old token is now
    // invalid (401) and the page's refresh callback cannot get a new one.
    server.kill('SIGKILL');
    const other = spawn(`${root}/target/debug/server`, [
      '--addr', `127.0.0.1:${port}`, '--site-root', `${root}/target/site`,
      '--jwt-secret', 'a-completely-different-secret-0123456789', '--demo', 'false', '--log', 'warn',
    ], { stdio: 'ignore' });
    try {
      await waitHealthy();
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
  const net = await import('net');
  const redisPort: number = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const broker = `redis://127.0.0.1:${redisPort}/0`;
  const secret = 'e2e-redis-secret-0123456789abcdef';
  const nodeArgs = (p: number) => [
    '--addr', `127.0.0.1:${p}`, '--site-root', `${root}/target/site`, '--jwt-secret', secret,
    '--broker', broker, '--demo-tick-ms', '0', '--log', 'warn',
  ];
  const waitUp = async (p: number) => {
    for (let i = 0; i < 100; i++) {
      try { if ((await fetch(`http://127.0.0.1:${p}/api/health`)).ok) return; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`node on ${p} did not come up`);
  };
  const [a, b] = [3121, 3122];
  let nodeA = spawn(`${root}/target/debug/server`, nodeArgs(a), { stdio: 'ignore' });
  const nodeB = spawn(`${root}/target/debug/server`, nodeArgs(b), { stdio: 'ignore' });
  try {
    await waitUp(a);
    await waitUp(b);
    await page.goto(`http://127.0.0.1:${a}/sse-demo`);
    await signIn(page, 'survivor');
    nodeA.kill('SIGKILL');
    await expect(page.getByTestId('connection-state')).toContainText('reconnecting');
    // Published on node B while node A is down.
    const tok = await (await fetch(`http://127.0.0.1:${b}/api/auth/demo-token`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'announcer', role: 'publisher' }),
    })).json();
    for (const n of [1, 2, 3]) {
      const res = await fetch(`http://127.0.0.1:${b}/api/sse/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tok.token}` },
        body: JSON.stringify({ event: 'notification', data: { message: `missed ${n}`, level: 'info' }, target: { user: 'survivor' } }),
      });
      expect(res.status).toBe(200);
    }
    nodeA = spawn(`${root}/target/debug/server`, nodeArgs(a), { stdio: 'ignore' });
    await waitUp(a);
    await expect(page.getByTestId('connection-state')).toHaveText('open', { timeout: 30_000 });
    for (const n of [1, 2, 3]) {
      await expect(notification(page, `missed ${n}`)).toHaveCount(1);
    }
    await page.waitForTimeout(1000);
    for (const n of [1, 2, 3]) {
      await expect(notification(page, `missed ${n}`)).toHaveCount(1);
    }
    await expect(notification(page, 'no longer in the hub')).toHaveCount(0);
  } finally {
    nodeA.kill('SIGKILL');
    nodeB.kill('SIGKILL');
    redis.kill('SIGKILL');
  }
});

test('an expiring token is refreshed through the callback and no event is lost', async ({ page }) => {
  test.setTimeout(60_000);
  const port = 3131;
  const server = spawn(`${root}/target/debug/server`, [
    '--addr', `127.0.0.1:${port}`, '--site-root', `${root}/target/site`,
    '--jwt-secret', 'e2e-refresh-secret-0123456789abcdef', '--demo-token-ttl-secs', '8',
    '--demo-tick-ms', '0', '--log', 'warn',
  ], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100; i++) {
      try { if ((await fetch(`http://127.0.0.1:${port}/api/health`)).ok) break; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.goto(`http://127.0.0.1:${port}/sse-demo`);
    await signIn(page, 'renewer');
    const tok = await (await fetch(`http://127.0.0.1:${port}/api/auth/demo-token`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'announcer', role: 'publisher' }),
    })).json();
    // Publish across at least one expiry (tokens live 8 s; streams close 5 s early).
    for (let n = 1; n <= 12; n++) {
      const res = await fetch(`http://127.0.0.1:${port}/api/sse/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tok.token}` },
        body: JSON.stringify({ event: 'notification', data: { message: `tick ${n}.`, level: 'info' }, target: { user: 'renewer' } }),
      });
      expect(res.status).toBe(200);
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
