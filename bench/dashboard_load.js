// What a first and a second visit of /sse-demo cost in Chromium: bytes on
// the wire (compressed, headers included) per kind of file, and the time
// from navigation to the first live event (the stream's `connected`, shown
// as the connection id), on an emulated ordinary link.
//
//   node bench/dashboard_load.js http://127.0.0.1:3000 [--mbit 10] [--rtt-ms 40]
//
// Start the hub first (scripts/run.sh, or a debug build to compare).
const path = require('path');
const { chromium } = require(path.join(__dirname, '../end2end/node_modules/playwright'));

const args = process.argv.slice(2);
const base = args.find((a) => a.startsWith('http')) ?? 'http://127.0.0.1:3000';
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const mbit = opt('mbit', 10);
const rtt = opt('rtt-ms', 40);

function kind(url, mime) {
  if (url.endsWith('.wasm') || mime === 'application/wasm') return 'wasm';
  if (url.endsWith('.js') || (mime ?? '').includes('javascript')) return 'js';
  if (url.endsWith('.css') || mime === 'text/css') return 'css';
  if (url.includes('/api/')) return 'api';
  if (mime === 'text/html') return 'page';
  return 'other';
}

async function visit(page, cdp) {
  const bytes = {};
  const requests = new Map();
  const onResponse = (e) => requests.set(e.requestId, kind(e.response.url, e.response.mimeType));
  const onDone = (e) => {
    const k = requests.get(e.requestId);
    if (k) bytes[k] = (bytes[k] ?? 0) + e.encodedDataLength;
  };
  cdp.on('Network.responseReceived', onResponse);
  cdp.on('Network.loadingFinished', onDone);
  const start = Date.now();
  await page.goto(`${base}/sse-demo`, { waitUntil: 'commit' });
  await page.getByTestId('connection-id').filter({ hasText: 'connection ' }).waitFor({ timeout: 120_000 });
  const firstEvent = Date.now() - start;
  // Streams never finish loading: count what has, after a moment.
  await page.waitForTimeout(500);
  cdp.off('Network.responseReceived', onResponse);
  cdp.off('Network.loadingFinished', onDone);
  return { firstEvent, bytes };
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: rtt,
    downloadThroughput: (mbit * 1e6) / 8,
    uploadThroughput: (mbit * 1e6) / 16,
  });
  const rows = [];
  for (const name of ['first visit', 'second visit']) {
    const v = await visit(page, cdp);
    const total = Object.values(v.bytes).reduce((a, b) => a + b, 0);
    rows.push({ name, ...v, total });
  }
  await browser.close();
  const kb = (n) => (n === undefined ? '0' : (n / 1024).toFixed(1));
  console.log(`${base}, ${mbit} Mbit/s, RTT ${rtt} ms`);
  console.log('| visit | page KiB | wasm KiB | js KiB | css KiB | total KiB | first live event ms |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${kb(r.bytes.page)} | ${kb(r.bytes.wasm)} | ${kb(r.bytes.js)} | ${kb(r.bytes.css)} | ${kb(r.total)} | ${r.firstEvent} |`);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
