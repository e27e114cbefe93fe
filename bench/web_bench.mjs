// Dashboard speed: the API's latency per endpoint (p50, p95 over RUNS calls) and the time until
// the overview is fully rendered in headless Chromium, against an existing store.
//
//   node bench/web_bench.mjs BINARY STORE [RUNS]
//
// STORE is a SQLite file or a postgresql:// URL (read with sqlite3 or psql, which must reach it
// without a password prompt). Build a store of ~1,000,000 records with the corpus generator and
// import (see docs/benchmarks.md, "Dashboard"; bench/pg_web_bench.sh for PostgreSQL).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(join(root, 'web/package.json'))('playwright-core');
const [binary, db, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 20);

const postgres = /^postgres(ql)?:\/\//.test(db);
// One statement on the store, its output as text.
const sql = (q) => (postgres
  ? execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', q], { encoding: 'utf8' })
  : execFileSync('sqlite3', [db, q], { encoding: 'utf8' })).trim();
const domain = sql('SELECT domain FROM aggregate_reports ORDER BY id LIMIT 1');
const lastDay = new Date(Number(sql('SELECT max(day) FROM daily_results')) * 1000).toISOString().slice(0, 10);
const topIp = sql('SELECT s.ip FROM daily_sources d JOIN source_ips s ON s.id = d.ip GROUP BY s.ip ORDER BY sum(d.messages) DESC LIMIT 1');
const topCountry = sql('SELECT country FROM ip_info_cache WHERE country IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1');
const monthBefore = new Date(Date.parse(lastDay) - 29 * 86400e3).toISOString().slice(0, 10);

sql('CREATE TABLE IF NOT EXISTS bench_touch (n INTEGER)');
const child = spawn(binary, ['serve', '--db', db, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
const url = await new Promise((res, rej) => {
  let err = '';
  child.stderr.on('data', (d) => { err += d; const m = err.match(/on (http:\/\/[^ ]+)\/\n/); if (m) res(m[1]); });
  child.on('exit', () => rej(new Error(err)));
});

const calls = [
  'stats', 'overview', `overview?domain=${domain}`, `overview?from=${monthBefore}&to=${lastDay}`, 'overview?failing=1',
  'sources?group=service', 'sources?group=ip', `sources?group=ip&from=${monthBefore}&to=${lastDay}`,
  `records?source_group=ip&source_value=${topIp}`, `sources?group=ip&source_group=country&source_value=${topCountry}`,
  `records?header_from=${domain}`, 'domains', 'reporters', 'reports', 'report?id=1', 'rejected',
  'failures', 'smtp-tls', `senders?domain=${domain}`, `advise?domain=${domain}&until=${lastDay}`,
];
const pct = (xs, p) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
// Calls the endpoint `runs` times (each after before(), not timed) and prints its table row; a
// call that fails is shown in its row, and the script exits with status 1 at the end.
let failed = 0;
async function timeCall(call, before = () => {}) {
  const times = [];
  for (let i = 0; i < runs; ++i) {
    before();
    const t0 = performance.now();
    const res = await fetch(`${url}/api/${call}`);
    await res.arrayBuffer();
    if (!res.ok) {
      console.log(`| \`${call}\` | failed: HTTP ${res.status} | |`);
      ++failed;
      return;
    }
    times.push(performance.now() - t0);
  }
  console.log(`| \`${call}\` | ${pct(times, 50).toFixed(0)} | ${pct(times, 95).toFixed(0)} |`);
}
// The sender inventory and the advisor answer from an index of the domain's records, built by
// the first call and kept until the store's aggregate data changes (store/sender_index.h): that
// first call is timed on its own.
for (const call of [`senders?domain=${domain}`]) {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/${call}`);
  await res.arrayBuffer();
  console.log(`First \`${call}\` (builds the domain's sender index): ${(performance.now() - t0).toFixed(0)} ms, HTTP ${res.status}\n`);
}
console.log(`| API call | p50 ms | p95 ms |\n|---|---:|---:|`);
for (const call of calls) await timeCall(call);

// The same calls, each the first after another connection committed to the store (an import or
// fetch): the dashboard reads the address details again then (PRAGMA data_version changed; on
// PostgreSQL, the server's write-ahead log moved). The
// commit adds a row to a table of the benchmark's own (bench_touch, made before serve starts
// and dropped at the end), which no view reads. (A commit that rewrites a row as it was changes no page: SQLite skips it.)
const touch = 'INSERT INTO bench_touch VALUES (1)';
console.log(`\n| API call, first after a commit | p50 ms | p95 ms |\n|---|---:|---:|`);
for (const call of ['overview', `overview?from=${monthBefore}&to=${lastDay}`, 'sources?group=service',
  `sources?group=ip&source_group=country&source_value=${topCountry}`]) {
  await timeCall(call, () => sql(touch));
}

// The sender inventory and the advisor, each the first after new aggregate data (an import,
// enrichment, a purge): the index is built again. The benchmark raises the store's aggregate
// version (docs/store.md) as such a commit does.
const bump = "UPDATE change_counters SET value = value + 1 WHERE name = 'aggregate'";
console.log(`\n| API call, first after new reports | p50 ms | p95 ms |\n|---|---:|---:|`);
for (const call of [`senders?domain=${domain}`, `advise?domain=${domain}&until=${lastDay}`]) {
  await timeCall(call, () => sql(bump));
}

const profile = mkdtempSync(join(tmpdir(), 'dmarc-bench-profile-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const renders = [];
for (let i = 0; i < Math.min(runs, 5); ++i) {
  const page = await browser.newPage();
  const t0 = performance.now();
  await page.goto(`${url}/#/overview`);
  await page.waitForSelector('body[data-ready="overview"] canvas', { timeout: 120000 });
  renders.push(performance.now() - t0);
  await page.close();
}
console.log(`\nOverview fully rendered in headless Chromium: p50 ${pct(renders, 50).toFixed(0)} ms, worst ${Math.max(...renders).toFixed(0)} ms`);
await browser.close();
rmSync(profile, { recursive: true, force: true });
child.kill();
sql('DROP TABLE IF EXISTS bench_touch');
if (failed) process.exit(1);
