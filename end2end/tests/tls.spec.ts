import { test, expect } from '@playwright/test';
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { notification, send, signIn } from './helpers';
import { chromiumArgs, chromiumPath, freePort, startHub, stopHub } from './servers';

// The dashboard over HTTPS, as a deployment without a proxy serves it.
// Chromium speaks HTTP/2 to the hub, or HTTP/1.1 when HTTP/2 is turned
// off; the hub serves the two with different stacks (hyper for HTTP/2,
// its own reader and pump for HTTP/1.1), both on its own TLS layer.
for (const protocol of ['h2', 'http/1.1']) {
  test(`the dashboard streams over TLS with ${protocol}`, async ({ playwright }) => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const made = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-keyout', key, '-out', cert, '-addext', 'subjectAltName=IP:127.0.0.1',
    ]);
    expect(made.status, String(made.stderr)).toBe(0);
    const port = await freePort();
    const hub = startHub(port, 'tls-e2e-secret-0123456789abcdef0123', ['--tls-cert', cert, '--tls-key', key]);
    const base = `https://127.0.0.1:${port}`;
    const browser = await playwright.chromium.launch({
      executablePath: chromiumPath,
      args: [...chromiumArgs, ...(protocol === 'h2' ? [] : ['--disable-http2'])],
    });
    try {
      const page = await browser.newPage({ ignoreHTTPSErrors: true });
      for (let i = 0; ; i++) {
        const up = await page.request.get(`${base}/api/health`).then((r) => r.ok(), () => false);
        if (up) break;
        expect(i, 'the hub answers over TLS').toBeLessThan(100);
        await page.waitForTimeout(100);
      }
      await page.goto(`${base}/sse-demo`);
      const used = await page.evaluate(() =>
        (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol);
      expect(used).toBe(protocol);
      await signIn(page, 'secure', 'admin');
      await send(page, 'broadcast', `over ${protocol}`);
      await expect(notification(page, `over ${protocol}`)).toHaveCount(1);
    } finally {
      await browser.close();
      await stopHub(hub);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
