// Browser test of the Senders page (docs/senders.md): the real binary serves a store of an
// example report behind a token; Debian's Chromium (headless, playwright-core) opens the page.
//
//   node tests/web/senders_browser_test.mjs BINARY ARTIFACT_DIR
//
// Checks: the inventory the page lists is the one `senders list --json` prints; approving a
// sender from the page (signed in) stores the status, which the CLI then reads with the user
// "token"; the status filter shows only approved senders; a request of another origin or
// without the dashboard's header changes nothing; with editors named, a user who is not one sees
// the page without buttons (read only) and the server refuses their change, while an editor
// marks a sender as a forwarder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root, binary, CHROMIUM, workDir, run, serveWithEditors, signIn, launchBrowser } from './harness.mjs';

const TOKEN = 'senders-test-4be1c0d7a93e2f58b6d1';
const work = workDir('dmarc-senders-web-');
const db = join(work, 'store.db');
let browser; let server;

const inventory = () => JSON.parse(run(['senders', 'list', '--domain', 'example.com', '--json', '--db', db])).senders;

before(async () => {
  assert.ok(existsSync(binary), `no binary at ${binary}`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}`);
  run(['import', '--offline', '--quiet', '--db', db,
    join(root, 'testdata/real/parsedmarc-samples/aggregate/empty_reason.xml')]);
  // Two users: alice may change statuses (an editor), bob only reads.
  server = await serveWithEditors(db, work, TOKEN);
  browser = await launchBrowser(work);
});

after(async () => {
  await browser?.close();
  server?.child.kill();
  rmSync(work, { recursive: true, force: true });
});

test('a signed-in user approves a sender from the Senders page', async () => {
  const before = inventory();
  assert.ok(before.length > 0, 'the example report has senders');
  const first = before[0];
  assert.equal(first.status, 'unknown');
  const p = await browser.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(`${server.url}/#/senders?domain=example.com`);
  await p.waitForSelector('form.login');
  await p.fill('form.login input[name=token]', TOKEN);
  await p.click('form.login button[type=submit]');
  await p.waitForSelector('body[data-ready="senders"] [data-list="senders"] tbody tr');
  assert.equal(await p.locator('[data-list="senders"] tbody tr').count(), before.length);
  // A forged request (no dashboard header) is refused and changes nothing.
  const forged = await p.evaluate(async () => (await fetch('/api/senders/status', { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ domain: 'example.com', sender: 'x', status: 'approved' }) })).status);
  assert.equal(forged, 403);
  const row = p.locator('[data-list="senders"] tbody tr', { hasText: first.sender }).first();
  await row.locator('button[data-status="approved"]').click();
  await p.waitForSelector('[data-list="senders"] tbody tr button[data-status="unknown"]');
  const after = inventory();
  const approved = after.find((s) => s.sender === first.sender);
  assert.equal(approved.status, 'approved');
  assert.equal(approved.status_changed_by, 'token');
  assert.equal(after.filter((s) => s.status === 'approved').length, 1);
  // The status filter.
  await p.selectOption('select[name=status]', 'approved');
  await p.waitForFunction(() => location.hash.includes('status=approved'));
  await p.waitForSelector('body[data-ready="senders"] [data-list="senders"] tbody tr');
  assert.equal(await p.locator('[data-list="senders"] tbody tr').count(), 1);
  assert.deepEqual(errors, []);
});

// The Senders page signed in as a user.
const signedIn = (user) => signIn(browser, server.url, '#/senders?domain=example.com', user,
  'body[data-ready="senders"] [data-list="senders"] tbody tr');

test('a user who is not an editor reads the page without buttons, and cannot change a status', async () => {
  const { p, errors } = await signedIn('bob');
  assert.equal(await p.locator('[data-list="senders"] tbody button[data-status]').count(), 0);
  const note = p.locator('[data-read-only="true"]');
  assert.ok((await note.textContent()).includes('bob is not one of the editors'));
  const sender = inventory()[0].sender;
  const status = await p.evaluate(async (name) => (await fetch('/api/senders/status', { method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'dmarc-report' },
    body: JSON.stringify({ domain: 'example.com', sender: name, status: 'unapproved' }) })).status, sender);
  assert.equal(status, 403);
  assert.notEqual(inventory()[0].status, 'unapproved');
  // The browser logs the refusal asked for above; nothing else.
  assert.deepEqual(errors.filter((e) => !e.includes('status of 403')), []);
  await p.close();
});

test('an editor marks a sender as a forwarder', async () => {
  const { p, errors } = await signedIn('alice');
  assert.equal(await p.locator('[data-read-only="true"]').count(), 0);
  const target = inventory().find((x) => x.status === 'unknown') || inventory()[0];
  const row = p.locator('[data-list="senders"] tbody tr', { hasText: target.sender }).first();
  await row.locator('button[data-status="forwarder"]').click();
  await p.waitForFunction((name) => [...document.querySelectorAll('[data-list="senders"] tbody tr')]
    .some((tr) => tr.textContent.includes(name) && !tr.querySelector('button[data-status="forwarder"]')), target.sender);
  const after = inventory().find((x) => x.sender === target.sender);
  assert.equal(after.status, 'forwarder');
  assert.equal(after.status_changed_by, 'alice');
  assert.deepEqual(errors, []);
  await p.close();
});
