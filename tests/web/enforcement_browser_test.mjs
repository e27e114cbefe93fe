// Browser test of the Enforcement page (docs/senders.md, "Enforcement advisor"): the real binary
// serves a store of the example reports whose example.com sources are given senders (their
// records' PTR base domain set, as enrichment would); Debian's Chromium (headless, playwright-
// core) opens the pages.
//
//   node tests/web/enforcement_browser_test.mjs BINARY ARTIFACT_DIR
//
// Checks: the page shows what `advise --json` says (policy, recommendation, simulation counts,
// what to fix) for the period the filter bar and the period picker choose; a sender name carrying
// a payload stays text; forwarded mail shows why (a list server of the bundled list, a
// receiver's arc=pass comment carrying a payload, as text); a user who is not an editor cannot
// approve (no buttons, 403), and when an editor approves a failing sender on the Senders page,
// the Enforcement page counts its mail as approved mail that would be blocked instead of
// spoofing stopped, and lists it to fix; a record typed in is simulated as `advise --simulate`
// says, and a wrong one is named beside the form.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, binary, artifacts, CHROMIUM, P, sqlText, workDir, run, serveWithEditors, signIn, launchBrowser } from './harness.mjs';

const TOKEN = 'enforcement-test-7c2d9e41f0a85b36';
const SENDER = 'bulk-mailer.example';
const UNTIL = '2024-03-31';  // the newest example.com report ends on 2024-04-01
const work = workDir('dmarc-enforcement-web-');
const db = join(work, 'store.db');
const EXAMPLES = join(root, 'testdata/real/parsedmarc-samples/aggregate');
let browser; let server;

const sql = (text) => execFileSync('sqlite3', [db, text], { encoding: 'utf8' });
const advice = () => JSON.parse(run(['advise', '--db', db, '--domain', 'example.com', '--until', UNTIL, '--days', '365', '--json']));

before(async () => {
  assert.ok(existsSync(binary), `no binary at ${binary}`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}`);
  run(['import', '--offline', '--quiet', '--db', db, ...readdirSync(EXAMPLES).map((f) => join(EXAMPLES, f))]);
  // Forty failing records of the period become one sender; three others carry a payload name.
  const failing = "SELECT id FROM aggregate_records WHERE domain = 'example.com' AND dmarc_aligned = 0"
    + " AND interval_begin >= strftime('%s', '2023-04-02') ORDER BY id";
  sql(`UPDATE aggregate_records SET source_base_domain = ${sqlText(SENDER)} WHERE id IN (${failing} LIMIT 40);`);
  sql(`UPDATE aggregate_records SET source_base_domain = ${sqlText(`x${P}.example`)} WHERE id IN (${failing} LIMIT 3 OFFSET 40);`);
  // Forwarded mail no receiver named: two records from a list server (the bundled "lists.*"),
  // one whose receiver verified ARC (its comment carries a payload).
  sql(`UPDATE aggregate_records SET source_reverse_dns = 'lists.forward.example', source_base_domain = 'forward.example' WHERE id IN (${failing} LIMIT 2 OFFSET 43);`);
  sql(`UPDATE aggregate_records SET source_base_domain = 'arc-relay.example' WHERE id IN (${failing} LIMIT 1 OFFSET 45);`);
  sql(`UPDATE aggregate_records SET overrides = json_insert(coalesce(overrides, '[]'), '$[#]', json_object('type', 'local_policy', 'comment', ${sqlText(`arc=pass ${P}`)})) WHERE id IN (${failing} LIMIT 1 OFFSET 45);`);
  server = await serveWithEditors(db, work, TOKEN);  // alice an editor, bob a reader
  browser = await launchBrowser(work);
});

after(async () => {
  await browser?.close();
  server?.child.kill();
  rmSync(work, { recursive: true, force: true });
});

// A page of the dashboard signed in as user, waiting for body[data-ready=ready].
const signedIn = (user, hash, ready) => signIn(browser, server.url, hash, user, `body[data-ready="${ready}"]`);

const ENFORCEMENT = `#/enforcement?domain=example.com&to=${UNTIL}&days=365`;

// What the page shows of the advice, next to what the CLI says.
async function expectPageShows(p, a) {
  const sim = a.simulation;
  assert.equal(await p.locator('main [data-rule]').getAttribute('data-rule'), a.recommendation.rule);
  assert.equal(await p.locator('[data-simulation]').getAttribute('data-simulation'),
    `${sim.approved_blocked}/${sim.forwarded_hit}/${sim.spoofing_blocked}`);
  const text = await p.locator('main').textContent();
  assert.ok(text.includes(`Next step: ${a.recommendation.action}`), text);
  assert.ok(text.includes(a.recommendation.evidence));
  assert.ok(text.includes(`p=${a.policy.p}`));
  const fixes = p.locator('ol[data-list="fixes"] li');
  assert.equal(await fixes.count(), a.fixes.length);
  for (let i = 0; i < a.fixes.length; ++i) assert.equal(await fixes.nth(i).textContent(), a.fixes[i].text);
}

test('the page shows the advice of `advise --json`, names as text; a reader cannot approve', async () => {
  const a = advice();
  assert.equal(a.recommendation.rule, 'approve_senders');
  assert.ok(a.simulation.unapproved.some((s) => s.sender === SENDER), 'the sender is among the spoofing');
  const { p, errors } = await signedIn('bob', ENFORCEMENT, 'enforcement');
  await p.screenshot({ path: join(artifacts, 'enforcement.png'), fullPage: true });
  await expectPageShows(p, a);
  const row = p.locator('table tr', { hasText: SENDER });
  assert.equal(await row.count(), 1);
  // Forwarded mail with why, as the advice says: the list server, the ARC comment as text.
  const forwarded = Object.fromEntries(a.simulation.forwarded.map((s) => [s.sender, s.reasons.map((r) => r.reason).join(' ')]));
  assert.equal(forwarded['forward.example'], 'known_forwarder');
  assert.equal(forwarded['arc-relay.example'], 'arc');
  for (const [sender, reasons] of Object.entries(forwarded)) {
    const cell = p.locator('table tr', { hasText: sender }).locator('td[data-reasons]');
    assert.equal(await cell.getAttribute('data-reasons'), reasons, sender);
  }
  const list = p.locator('table tr', { hasText: 'forward.example' }).locator('td[data-reasons]');
  assert.ok((await list.textContent()).startsWith('a known forwarder: Mailing list server (mailing_list)'));
  const arc = p.locator('table tr', { hasText: 'arc-relay.example' }).locator('td[data-reasons]');
  assert.ok((await arc.textContent()).includes(`arc=pass ${P}`), await arc.textContent());
  // The payload sender is listed as text; nothing ran.
  assert.ok((await p.locator('main').textContent()).includes(`x${P}.example`));
  await p.waitForTimeout(300);
  assert.equal(await p.evaluate(() => window.__xss), undefined);
  assert.equal(await p.locator('main img, main script').count(), 0);
  // The period picker: 7 days before the last day hold no mail of this domain.
  await p.selectOption('select[name=days]', '7');
  await p.waitForFunction(() => location.hash.includes('days=7'));
  await p.waitForSelector('body[data-ready="enforcement"] [data-simulation]');
  // bob reads the Senders page without buttons.
  await p.evaluate(() => { location.hash = '#/senders?domain=example.com'; });
  await p.waitForSelector('body[data-ready="senders"] [data-read-only="true"]');
  assert.equal(await p.locator('[data-list="senders"] tbody button[data-status]').count(), 0);
  assert.deepEqual(errors, []);
  await p.close();
});

test('approving a failing sender moves its mail from spoofing stopped to approved mail blocked, and lists it to fix', async () => {
  const before = advice();
  const mine = before.simulation.unapproved.find((s) => s.sender === SENDER).messages;
  const { p, errors } = await signedIn('alice', '#/senders?domain=example.com', 'senders');
  const row = p.locator('[data-list="senders"] tbody tr', { hasText: SENDER }).first();
  await row.locator('button[data-status="approved"]').click();
  await p.waitForFunction((name) => [...document.querySelectorAll('[data-list="senders"] tbody tr')]
    .some((tr) => tr.textContent.includes(name) && !tr.querySelector('button[data-status="approved"]')), SENDER);
  await p.evaluate((h) => { location.hash = h; }, ENFORCEMENT);
  await p.waitForSelector('body[data-ready="enforcement"] [data-simulation]');
  const after = advice();
  assert.equal(after.simulation.approved_blocked, mine);
  assert.equal(after.simulation.spoofing_blocked, before.simulation.spoofing_blocked - mine);
  assert.equal(after.fixes.length, 1);
  assert.ok(after.fixes[0].text.startsWith(`${SENDER}: `), after.fixes[0].text);
  assert.equal(after.recommendation.rule, 'fix_first');
  await expectPageShows(p, after);
  await p.screenshot({ path: join(artifacts, 'enforcement-approved.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await p.close();
});

test('a record typed in is simulated as `advise --simulate` says; a wrong one is named beside the form', async () => {
  const record = 'p=reject; sp=quarantine; t=y';
  const cli = JSON.parse(run(['advise', '--db', db, '--domain', 'example.com', '--until', UNTIL, '--days', '365', '--json', '--simulate', record]));
  const sim = cli.simulation;
  assert.equal(sim.proposed.record, record);
  // t=y: reject as quarantine, so nothing is rejected; the period's failing mail is all quarantined.
  assert.equal(sim.effect.spoofing.rejected, 0);
  assert.equal(sim.effect.spoofing.quarantined, sim.spoofing_blocked);
  assert.ok(sim.spoofing_blocked > 0);
  const { p, errors } = await signedIn('bob', ENFORCEMENT, 'enforcement');
  // The next step from the published p=none is simulated first.
  assert.equal(await p.locator('[data-proposed]').getAttribute('data-proposed'), advice().simulation.proposed.record);
  await p.fill('input[name=simulate]', record);
  await p.click('form[data-form="simulate"] button[type=submit]');
  await p.waitForSelector(`body[data-ready="enforcement"] [data-proposed="${record}"]`);
  for (const key of ['approved', 'forwarded', 'spoofing']) {
    const e = sim.effect[key];
    assert.equal(await p.locator(`tr[data-effect="${key}"]`).getAttribute('data-values'), `${e.quarantined}/${e.rejected}`, key);
  }
  // The period picker keeps the record.
  await p.selectOption('select[name=days]', '30');
  await p.waitForFunction(() => location.hash.includes('days=30') && location.hash.includes('simulate='));
  // A record the API refuses: its error beside the form (as text), the next step simulated.
  await p.fill('input[name=simulate]', `p=${P}`);
  await p.click('form[data-form="simulate"] button[type=submit]');
  await p.waitForSelector('body[data-ready="enforcement"] form[data-form="simulate"] [role=alert]');
  const alert = await p.locator('form[data-form="simulate"] [role=alert]').textContent();
  assert.ok(alert.startsWith('simulate: p: none, quarantine or reject, not'), alert);
  await p.waitForTimeout(300);
  assert.equal(await p.evaluate(() => window.__xss), undefined);
  await p.screenshot({ path: join(artifacts, 'enforcement-simulate.png'), fullPage: true });
  // The browser logs the refused request (400) itself; nothing else went wrong.
  assert.deepEqual(errors.filter((e) => !e.includes('status of 400 (Bad Request)')), []);
  assert.equal(errors.length, 1);
  await p.close();
});
