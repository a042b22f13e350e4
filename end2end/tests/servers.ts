import { spawn, ChildProcess } from 'child_process';

// Hub processes of a test's own, started, killed and restarted by the test.
export const root = `${__dirname}/../..`;
/** The hub binary and site under test: the release build by default
 *  (E2E_SERVER / E2E_SITE to test another). */
export const server = process.env.E2E_SERVER ?? `${root}/target/release/server`;
export const site = process.env.E2E_SITE ?? `${root}/target/site-release`;
/** The Chromium to test with, and its flags (no downloads, no sandbox as
 *  root, nothing reaching for the network on its own). */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts the hub binary on `port` with `secret` and extra flags
 *  (in demo mode, unless `extra` says `--demo false`). */
export function startHub(port: number, secret: string, extra: string[] = []): ChildProcess {
  const demo = extra.includes('--demo') ? [] : ['--demo', 'true'];
  return spawn(server, [
    '--addr', `127.0.0.1:${port}`,
    '--site-root', site,
    '--jwt-secret', secret,
    ...demo,
    '--demo-tick-ms', '0',
    '--log', 'warn',
    ...extra,
  ], { stdio: 'ignore' });
}

/** Kills a hub and waits until it is gone, so its port is free for the
 *  next one (a kill is only a request). */
export async function stopHub(hub: ChildProcess, signal: NodeJS.Signals = 'SIGKILL') {
  if (hub.exitCode !== null || hub.signalCode !== null) return;
  const gone = new Promise((resolve) => hub.once('exit', resolve));
  hub.kill(signal);
  await gone;
}

/** Waits until the hub on `port` answers its health check. */
export async function waitHealthy(port: number) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/api/health`)).ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`hub on ${port} did not come up`);
}

/** A demo token from the hub on `port`. */
export async function demoToken(port: number, userId: string, role: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/auth/demo-token`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId, role }),
  });
  return (await res.json()).token;
}

/** Publishes a notification to `user` through the hub on `port`; returns the status. */
export async function notifyUser(port: number, token: string, user: string, message: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/api/sse/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ event: 'notification', data: { message, level: 'info' }, target: { user } }),
  });
  return res.status;
}

/** A free loopback port. */
export async function freePort(): Promise<number> {
  const net = await import('net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
