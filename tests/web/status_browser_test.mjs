// Browser tests of the ingest status in the dashboard: the real binary serves stores written by
// real `fetch` runs, Debian's Chromium (headless, driven by playwright-core) opens the pages.
//
//   node tests/web/status_browser_test.mjs BINARY ARTIFACT_DIR
//
// Checks: the Status page shows each source as a card with its state, counts and error, the
// enrichment backlog and the latest rejects, every text as text (payloads in a source's name,
// its error and a rejected file's name run no script); the Overview of a store without reports
// while a source is being polled says "N files being processed…", redraws itself once the
// reports are stored, then stops asking; an idle store is asked once per page drawn, no more.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, rmSync, copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, binary, artifacts, CHROMIUM, P, sqlText, workDir, run, serve, launchBrowser } from './harness.mjs';

const EXAMPLES = join(root, 'testdata/real/parsedmarc-samples/aggregate');

const work = workDir('dmarc-status-web-');

const sql = (db, text) => execFileSync('sqlite3', [db, text], { encoding: 'utf8' });

// A configuration of one drop directory into db; fetch runs it once.
function fetchOnce(name, db, inbox) {
  const config = join(work, `${name}.toml`);
  writeFileSync(config, `[store]\nurl = "sqlite:${db}"\n[enrich]\noffline = true\n[directory]\npath = "${inbox}"\n`);
  run(['fetch', '--config', config, '--quiet']);
  return config;
}


let browser; let fed; let firstRun; let idle;
const fedDb = join(work, 'fed.db');
const firstRunDb = join(work, 'first-run.db');
const idleDb = join(work, 'idle.db');
let exampleFiles = 0;

before(async () => {
  assert.ok(existsSync(binary), `no binary at ${binary}`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (scripts/install-deps.sh installs it)`);
  // A store fed by a real fetch of the example reports (some of them broken: rejects), and a
  // second source whose name, error and a rejected file carry payloads.
  const inbox = join(work, 'inbox');
  mkdirSync(inbox);
  for (const f of readdirSync(EXAMPLES)) { copyFileSync(join(EXAMPLES, f), join(inbox, f)); ++exampleFiles; }
  writeFileSync(join(inbox, `${P.slice(0, 40).replace(/\//g, '_')}.xml`), 'not a report');
  fetchOnce('fed', fedDb, inbox);
  sql(fedDb, `INSERT INTO ingest_sources (name, kind, state, updated_at, poll_started_at, poll_ended_at,
      last_error, last_error_at) VALUES (${sqlText(`imap://u@h:993/${P}`)}, 'imap', 'error', 1700000000,
      1700000000, 1700000001, ${sqlText(`connect: refused ${P}`)}, 1700000001);`);
  // A store with nothing yet, whose drop directory is being polled: 5 of 19 files done.
  const empty = join(work, 'empty');
  mkdirSync(empty);
  fetchOnce('first-run', firstRunDb, empty);
  sql(firstRunDb, "UPDATE ingest_sources SET state = 'polling', inputs_total = 19, inputs_done = 5, next_poll_at = NULL;");
  // A store with reports and an idle source.
  const idleInbox = join(work, 'idle-inbox');
  mkdirSync(idleInbox);
  copyFileSync(join(EXAMPLES, 'empty_reason.xml'), join(idleInbox, 'empty_reason.xml'));
  fetchOnce('idle', idleDb, idleInbox);
  fed = await serve(fedDb);
  firstRun = await serve(firstRunDb);
  idle = await serve(idleDb);
  browser = await launchBrowser(work);
});

after(async () => {
  await browser?.close();
  for (const s of [fed, firstRun, idle]) s?.child.kill();
  rmSync(work, { recursive: true, force: true });
});

// Opens url and waits until the page has rendered; counts the requests for /api/status.
async function open(url, page) {
  const p = await browser.newPage();
  const errors = [];
  const status = { requests: 0 };
  p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss(); });
  p.on('request', (r) => { if (new URL(r.url()).pathname === '/api/status') ++status.requests; });
  await p.goto(url);
  await p.waitForSelector(`body[data-ready="${page}"]`, { timeout: 15000 });
  return { p, errors, status };
}

test('the Status page shows each source, the backlog and the latest rejects, as text', async () => {
  // Exit status 1: a source is in state error.
  let out = null;
  try { run(['status', '--db', fedDb, '--json']); } catch (e) { assert.equal(e.status, 1); out = e.stdout; }
  const s = JSON.parse(out);
  const { p, errors } = await open(`${fed.url}/#/status`, 'status');
  await p.screenshot({ path: join(artifacts, 'status.png'), fullPage: true });
  assert.ok(await p.locator('header nav a[href^="#/status"]').count(), 'a Status entry in the navigation');
  const cards = p.locator('section.source');
  assert.equal(await cards.count(), 2);
  const dir = p.locator(`section.source[data-state="idle"]`);
  assert.equal(await dir.getAttribute('data-source'), `directory:${join(work, 'inbox')}`);
  const dirText = await dir.textContent();
  const d = s.sources.find((x) => x.kind === 'directory');
  assert.ok(dirText.includes(`${d.mails.stored} stored, ${d.mails.invalid} invalid, 0 left in the mailbox`), dirText);
  assert.ok(dirText.includes(`${d.reports.aggregate.new.toLocaleString('en-US')} new`), dirText);
  assert.equal(d.mails.stored + d.mails.invalid, exampleFiles + 1);
  const failed = p.locator('section.source[data-state="error"]');
  assert.equal(await failed.getAttribute('data-source'), `imap://u@h:993/${P}`);
  assert.ok((await failed.textContent()).includes(`connect: refused ${P}`), 'the error, as text');
  assert.equal(await p.getAttribute('[data-backlog]', 'data-backlog'), String(s.enrichment_backlog.addresses));
  assert.ok(s.enrichment_backlog.addresses > 0, 'offline: every address waits');
  const rows = p.locator('table[data-table="status-rejected"] tbody tr');
  assert.equal(await rows.count(), s.rejections.length);
  assert.ok(s.rejections.some((r) => r.origin.includes('<img src=x')), 'the payload file was rejected');
  const shown = await p.$$eval('table[data-table="status-rejected"] tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(shown, s.rejections.map((r) => r.origin));
  // Nothing of the payloads ran or became markup.
  assert.equal(await p.evaluate(() => window.__xss), undefined);
  assert.equal(await p.locator('main img, main script').count(), 0);
  assert.deepEqual(errors, []);
  await p.close();
});

test('the first-run overview says how many files are being processed, then shows them', async () => {
  const { p, errors, status } = await open(`${firstRun.url}/#/overview`, 'overview');
  const box = p.locator('[data-first-run]');
  assert.equal(await box.getAttribute('data-first-run'), '19');
  assert.ok((await box.textContent()).startsWith('19 files being processed… (5 done, 14 to go)'));
  assert.equal(await p.getByText('dmarc-report import').count(), 0, 'no command-line advice');
  await p.screenshot({ path: join(artifacts, 'first-run.png') });
  // The import ends: its reports are stored and the source is idle. The page redraws itself.
  try { run(['import', '-q', '--offline', '--db', firstRunDb, EXAMPLES]); } catch { /* exit 1: broken examples rejected */ }
  sql(firstRunDb, "UPDATE ingest_sources SET state = 'idle', inputs_done = 19;");
  const messages = JSON.parse(run(['stats', '--db', firstRunDb, '--json'])).messages;
  await p.waitForFunction((m) => Number(document.querySelector('[data-kpi="messages"]')?.dataset.value) === m && !document.querySelector('[data-first-run]'), messages, { timeout: 15000 });
  // Idle now: the page stops asking.
  const asked = status.requests;
  await p.waitForTimeout(7000);
  assert.ok(status.requests <= asked + 1, `still polling: ${status.requests - asked} more requests`);
  assert.deepEqual(errors, []);
  await p.close();
});

test('an idle store is asked once per page drawn: no refresh loop', async () => {
  const { p, errors, status } = await open(`${idle.url}/#/overview`, 'overview');
  await p.waitForTimeout(7000);
  assert.ok(status.requests <= 1, `${status.requests} requests for /api/status`);
  assert.deepEqual(errors, []);
  await p.close();
});
