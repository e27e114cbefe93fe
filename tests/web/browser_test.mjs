// Browser tests of the dashboard: the real binary serves a real store, Debian's Chromium
// (headless, driven by playwright-core) opens every page.
//
//   node tests/web/browser_test.mjs BINARY ARTIFACT_DIR
//
// Checks: every page loads without console errors (CSP violations included); the numbers shown
// equal `stats --json` for the same filters; filters, sorting and the sources drill-down work;
// reports whose every text field carries script/HTML payloads run no script and render no
// markup; the self-contained HTML report opens from a file; long lists say "N of M", load more,
// search every row and download them all as CSV (formulas neutralised). Screenshots go to
// ARTIFACT_DIR.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync, existsSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root, binary, artifacts, CHROMIUM, P, sqlText, workDir, run, serve, launchBrowser } from './harness.mjs';

const PAGES = ['overview', 'sources', 'domains', 'reporters', 'reports', 'failures', 'smtp-tls', 'rejected'];

const work = workDir('dmarc-web-');

function stats(db, filters) {
  const args = ['stats', '--db', db, '--json'];
  for (const [k, v] of Object.entries(filters)) if (v) args.push(`--${k}`, v);
  return JSON.parse(run(args));
}


let browser; let main; let hostile; let scoped; let big; let failing;
const mainDb = join(work, 'main.db');
const bigDb = join(work, 'big.db');
const failDb = join(work, 'failures.db');
// More sources than a page and than the API's largest page: 10.20.(i / 250).(i % 250), i + 1
// messages each. The reporter's name would be a formula in a spreadsheet, with a quote in it.
const BIG_SOURCES = 1234;
const FORMULA_ORG = '=1+2"x';
function bigReport() {
  const records = [];
  for (let i = 0; i < BIG_SOURCES; ++i) {
    records.push(`<record><row><source_ip>10.20.${Math.floor(i / 250)}.${i % 250}</source_ip><count>${i + 1}</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
      <identifiers><header_from>big.example</header_from></identifiers>
      <auth_results><spf><domain>big.example</domain><result>pass</result></spf></auth_results></record>`);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>
<feedback><report_metadata><org_name>${FORMULA_ORG.replace(/"/g, '&quot;')}</org_name><email>dmarc@big.example</email>
<report_id>big-1</report_id><date_range><begin>1704067200</begin><end>1704153599</end></date_range></report_metadata>
<policy_published><domain>big.example</domain><p>none</p></policy_published>
${records.join('\n')}
</feedback>
`;
}
const hostileDb = join(work, 'hostile.db');
const scopedDb = join(work, 'scoped.db');

before(async () => {
  assert.ok(existsSync(binary), `no binary at ${binary}`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (scripts/install-deps.sh installs it)`);
  run(['import', '-q', '--offline', '--db', mainDb, join(root, 'testdata/real/parsedmarc-samples/aggregate')]);
  // Hostile store: payloads in every text field of a report, in a rejected input's name, and in
  // the columns enrichment, failure and SMTP TLS reports fill.
  const badDir = join(work, 'bad');
  mkdirSync(badDir);
  writeFileSync(join(badDir, '<img src=x onerror="window.__xss=1">.xml'), 'not a report');
  try { run(['import', '-q', '--offline', '--db', hostileDb, join(root, 'testdata/web/xss-payloads.xml'), badDir]); } catch { /* exit 1: one input rejected */ }
  execFileSync('sqlite3', [hostileDb, `
    UPDATE aggregate_records SET source_reverse_dns = ${sqlText(`ptr${P}`)}, source_name = ${sqlText(`svc${P}`)},
      source_country = ${sqlText(`c${P}`)}, source_base_domain = ${sqlText(`base${P}`)}, source_type = ${sqlText(`t${P}`)},
      source_as_name = ${sqlText(`as${P}`)}, source_asn = 64500;
    INSERT OR REPLACE INTO ip_info_cache (ip, status, reverse_dns, base_domain, country, asn, as_name, as_domain, name, type, resolved_at, expires_at)
      VALUES ('192.0.2.66', 'ok', ${sqlText(`ptr${P}`)}, ${sqlText(`base${P}`)}, ${sqlText(`c${P}`)}, 64500,
      ${sqlText(`as${P}`)}, ${sqlText(`asd${P}`)}, ${sqlText(`svc${P}`)}, ${sqlText(`t${P}`)}, 1700000000, 4000000000);
    INSERT INTO failure_reports (arrival_ts, reported_domain, source_ip, feedback_type, data, origin, imported_at)
      VALUES (1700000000, ${sqlText(`fr${P}`)}, '192.0.2.9', ${sqlText(`auth-failure${P}`)},
      ${sqlText(JSON.stringify({ subject: `s${P}`, sample: 'secret sample' }))}, ${sqlText(`mail${P}`)}, 1700000000);
    INSERT INTO smtp_tls_reports (id, organization_name, report_id, begin_ts, end_ts, contact_info, origin, imported_at)
      VALUES (1, ${sqlText(`tlsorg${P}`)}, 'r1', 1700000000, 1700086399, NULL, 'x', 1700000000);
    INSERT INTO smtp_tls_policies (id, report, policy_domain, policy_type, policy_strings, mx_host_patterns, successful_session_count, failed_session_count)
      VALUES (1, 1, ${sqlText(`pol${P}`)}, 'sts', NULL, ${sqlText(`mx${P}`)}, 10, 2);
    INSERT INTO smtp_tls_failure_details (policy, position, result_type, failed_session_count)
      VALUES (1, 0, ${sqlText(`certificate-expired${P}`)}, 2);`]);
  run(['import', '-q', '--offline', '--db', scopedDb, join(root, 'testdata/web/scoped-sources.xml')]);
  writeFileSync(join(work, 'big.xml'), bigReport());
  run(['import', '-q', '--offline', '--db', bigDb, join(work, 'big.xml')]);
  // Failure reports (and aggregate reports) served with their message samples.
  run(['import', '-q', '--offline', '--db', failDb, join(root, 'testdata/real/parsedmarc-samples/failure'),
    join(root, 'testdata/real/parsedmarc-samples/aggregate/rfc9990-sample.xml')]);
  main = await serve(mainDb);
  big = await serve(bigDb);
  hostile = await serve(hostileDb);
  scoped = await serve(scopedDb);
  failing = await serve(failDb, ['--show-failure-samples']);
  browser = await launchBrowser(work);
});

after(async () => {
  await browser?.close();
  main?.child.kill();
  hostile?.child.kill();
  scoped?.child.kill();
  big?.child.kill();
  failing?.child.kill();
  rmSync(work, { recursive: true, force: true });
});

// Opens url, waits until the page has rendered, and returns it with the errors seen.
async function open(url, page) {
  const p = await browser.newPage();
  const errors = [];
  p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss(); });
  await p.goto(url);
  await p.waitForSelector(`body[data-ready="${page}"]`, { timeout: 15000 });
  await p.waitForTimeout(150);  // charts draw on the next frame
  return { p, errors };
}

test('every page loads without console errors', async () => {
  for (const page of PAGES) {
    const { p, errors } = await open(`${main.url}/#/${page}`, page);
    await p.screenshot({ path: join(artifacts, `${page}.png`), fullPage: false });
    assert.deepEqual(errors, [], `${page}: console errors`);
    assert.equal(await p.locator('.state.error').count(), 0, `${page}: error state shown`);
    // No sign-in: nothing to sign out of.
    await p.waitForSelector('header button.signout[data-session="false"]', { state: 'attached' });
    assert.equal(await p.locator('header button.signout:visible').count(), 0, `${page}: sign-out shown`);
    await p.close();
  }
});

test('the overview shows the numbers of stats --json for the same filters', async () => {
  for (const filters of [{}, { domain: 'example.com' }, { from: '2024-03-30', to: '2024-04-01' }, { domain: 'nothing.example' }]) {
    const s = stats(mainDb, filters);
    const q = new URLSearchParams(filters).toString();
    const { p, errors } = await open(`${main.url}/#/overview${q ? `?${q}` : ''}`, 'overview');
    const kpi = async (k) => Number(await p.getAttribute(`[data-kpi="${k}"]`, 'data-value'));
    assert.equal(await kpi('messages'), s.messages, `messages for ${q}`);
    assert.equal(await kpi('dmarc_pass'), s.dmarc_pass, `DMARC pass for ${q}`);
    assert.equal(await kpi('reports'), s.reports, `reports for ${q}`);
    assert.equal(await kpi('sources'), s.source_ips, `sources for ${q}`);
    const shown = await p.textContent('[data-kpi="messages"] .value');
    assert.equal(shown.replace(/,/g, ''), String(s.messages));
    assert.deepEqual(errors, []);
    await p.close();
  }
});

test('messages per day has every day of its span, days without reports as zero', async () => {
  // The samples' days of 2018 are months apart.
  const q = 'from=2018-01-01&to=2018-12-31';
  const o = await (await fetch(`${main.url}/api/overview?${q}`)).json();
  assert.ok(o.daily.length >= 2, 'the samples have several days in 2018');
  const day = (d) => Date.parse(`${d}T00:00:00Z`) / 86400e3;
  const span = day(o.daily[o.daily.length - 1].day) - day(o.daily[0].day) + 1;
  assert.ok(span > o.daily.length, 'there are days without reports between them');
  const { p, errors } = await open(`${main.url}/#/overview?${q}`, 'overview');
  assert.equal(await p.locator('section .chart').first().getAttribute('data-points'), String(span));
  assert.deepEqual(errors, []);
  await p.close();
});

test('/api/stats is exactly stats --json', async () => {
  for (const filters of [{}, { domain: 'example.com', from: '2018-01-01', to: '2024-12-31' }]) {
    const res = await fetch(`${main.url}/api/stats?${new URLSearchParams(filters)}`);
    assert.deepEqual(await res.json(), stats(mainDb, filters));
  }
});

test('filters go into the URL, and tables sort', async () => {
  const { p, errors } = await open(`${main.url}/#/overview`, 'overview');
  await p.fill('input[name=from]', '2018-01-01');
  await p.check('input[name=failing]');
  await p.click('button[type=submit]');
  await p.waitForFunction(() => location.hash.includes('from=2018-01-01') && location.hash.includes('failing=1'));
  await p.waitForSelector('body[data-ready="overview"] select[name=domain][data-loaded]');
  await p.selectOption('select[name=domain]', 'example.com');
  await p.waitForFunction(() => location.hash.includes('domain=example.com') && location.hash.includes('failing=1'));
  await p.waitForSelector('body[data-ready="overview"] [data-kpi]');
  const s = stats(mainDb, { domain: 'example.com', from: '2018-01-01' });
  await p.waitForFunction((m) => Number(document.querySelector('[data-kpi="messages"]').dataset.value) === m, s.dmarc_fail);
  // Sorting: the reporters table by name, both ways.
  await p.goto(`${main.url}/#/reporters`);
  await p.waitForSelector('table[data-table="reporters"]');
  const names = () => p.$$eval('table[data-table="reporters"] tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  await p.click('table[data-table="reporters"] th:first-child');
  const asc = await names();
  assert.deepEqual(asc, [...asc].sort((a, b) => a.localeCompare(b)));
  await p.click('table[data-table="reporters"] th:first-child');
  assert.deepEqual(await names(), [...asc].reverse());
  assert.deepEqual(errors, []);
  await p.close();
});

test('sources drill down from a group to its IPs to their records with every DKIM/SPF result', async () => {
  const { p, errors } = await open(`${main.url}/#/sources?group=service`, 'sources');
  await p.click('table[data-table="sources"] tbody tr:first-child');
  await p.waitForFunction(() => location.hash.includes('group=ip') && location.hash.includes('source_group=service'));
  await p.waitForSelector('table[data-table="sources"] tbody tr');
  await p.click('table[data-table="sources"] tbody tr:first-child');
  await p.waitForFunction(() => location.hash.startsWith('#/records'));
  await p.waitForSelector('table[data-table="records"] tbody tr');
  const text = await p.textContent('table[data-table="records"]');
  assert.match(text, /pass|fail/);
  await p.screenshot({ path: join(artifacts, 'records.png'), fullPage: false });
  // One report with all its rows.
  await p.goto(`${main.url}/#/reports`);
  await p.waitForSelector('table[data-table="reports"] tbody tr');
  await p.click('table[data-table="reports"] tbody tr:first-child');
  await p.waitForSelector('table[data-table="report-records"] tbody tr');
  // Its raw XML, as received, as text, with a download link.
  const raw = await p.textContent('pre.raw-xml-text');
  assert.match(raw, /<feedback[\s>]/);
  const href = await p.getAttribute('.raw-xml a[download]', 'href');
  assert.match(href, /^\/api\/report\/raw\?id=\d+$/);
  const download = await p.request.get(`${main.url}${href}`);
  assert.equal(download.status(), 200);
  assert.match(download.headers()['content-disposition'], /^attachment; filename="report-\d+\.xml"$/);
  // What is shown is the start of the download, cut at 200,000 characters with a note.
  const full = await download.text();
  assert.ok(full.startsWith(raw), 'shown XML is not the start of the download');
  assert.ok(raw.length <= 200000, `${raw.length} characters shown`);
  if (full.length > raw.length) assert.match(await p.textContent('.raw-xml'), /Shown: the first 200,000 of [\d,]+ characters/);
  await p.screenshot({ path: join(artifacts, 'report.png'), fullPage: false });
  assert.deepEqual(errors, []);
  await p.close();
});

test('private and reserved sources are shown as such in the Country column, never as a country', async () => {
  for (const [page, table] of [['sources?group=ip', 'sources'], ['overview', 'top-sources']]) {
    const { p, errors } = await open(`${scoped.url}/#/${page}`, page.split('?')[0]);
    const rows = await p.$$eval(`table[data-table="${table}"] tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    const country = Object.fromEntries(rows.map((cells) => [cells[0], cells[3]]));
    assert.deepEqual(country, { '10.1.2.3': 'private', '192.0.2.10': 'reserved', '8.8.8.8': 'US' }, `${page}: ${JSON.stringify(rows)}`);
    assert.deepEqual(errors, []);
    await p.close();
  }
});

// Every page, at a phone's and a desktop's width: the page itself never scrolls sideways (wide
// tables scroll inside their own box).
test('no page is wider than a 390 px phone or a 1440 px desktop screen', async () => {
  const pages = [[main, PAGES], [main, ['sources?group=ip', 'records?source_group=service&source_value=', 'report?id=1']],
    [failing, ['failures', 'failure?id=1', 'failure?id=3', 'overview']], [hostile, ['overview', 'sources?group=ip', 'failures', 'report?id=1']]];
  for (const [width, height] of [[390, 844], [1440, 900]]) {
    const p = await browser.newPage();
    await p.setViewportSize({ width, height });
    for (const [server, list] of pages) {
      for (const page of list) {
        await p.goto('about:blank');
        await p.goto(`${server.url}/#/${page}`);
        await p.waitForSelector(`body[data-ready="${page.split('?')[0]}"]`);
        await p.waitForTimeout(100);
        const [scroll, inner] = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
        assert.ok(scroll <= inner, `${page} is ${scroll}px wide on a ${inner}px screen`);
        if (page === 'overview' || page === 'failures') await p.screenshot({ path: join(artifacts, `${page}-${width}.png`), fullPage: false });
      }
    }
    await p.close();
  }
});

test('the domain picker lists the store\'s domains, and the domain stays when going to other pages', async () => {
  const names = (await (await fetch(`${failing.url}/api/domain-names`)).json()).domains;
  assert.ok(names.includes('domain.de') && names.includes('example.com'), JSON.stringify(names));
  const { p, errors } = await open(`${failing.url}/#/overview`, 'overview');
  await p.waitForSelector('select[name=domain][data-loaded]');
  const options = await p.$$eval('select[name=domain] option', (os) => os.map((o) => o.value));
  assert.deepEqual(options, ['', ...names]);
  await p.selectOption('select[name=domain]', 'domain.de');
  await p.waitForFunction(() => location.hash === '#/overview?domain=domain.de');
  await p.click('nav a:has-text("Failure reports")');
  await p.waitForFunction(() => location.hash.startsWith('#/failures') && location.hash.includes('domain=domain.de'));
  await p.waitForSelector('body[data-ready="failures"] table[data-table="failures"]');
  const domains = await p.$$eval('table[data-table="failures"] tbody tr td:last-child', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual([...new Set(domains)], ['domain.de']);
  assert.equal(await p.inputValue('select[name=domain]'), 'domain.de');
  // Back to all domains.
  await p.selectOption('select[name=domain]', '');
  await p.waitForFunction(() => location.hash === '#/failures');
  assert.deepEqual(errors, []);
  await p.close();
});

test('failure reports read as a table; a row opens the report with its message, loaded then', async () => {
  const list = await (await fetch(`${failing.url}/api/failures`)).text();
  assert.ok(!list.includes('Servernameone'), 'the list carries the message samples');
  const { p, errors } = await open(`${failing.url}/#/failures`, 'failures');
  const heads = await p.$$eval('table[data-table="failures"] th', (ths) => ths.map((t) => t.textContent));
  assert.deepEqual(heads, ['Arrival (UTC)', 'From', 'Subject', 'SPF', 'DKIM', 'DMARC', 'Delivery', 'Forwarded', 'Source', 'Domain']);
  const row = p.locator('table[data-table="failures"] tbody tr', { hasText: 'sharepoint@domain.de' });
  const cells = await row.locator('td').allTextContents();
  assert.deepEqual(cells, ['2018-10-01 09:20:27', 'Interaktive Wettbewerber-Übersicht <sharepoint@domain.de>', 'Subject',
    '–', '–', 'fail', 'policy', '', '10.10.10.10', 'domain.de']);
  const asked = [];
  p.on('request', (r) => asked.push(r.url()));
  await row.click();
  await p.waitForSelector('body[data-ready="failure"] pre.failure-sample');
  assert.ok(asked.some((u) => /\/api\/failure\?id=\d+$/.test(u)), asked.join(' '));
  assert.match(await p.textContent('pre.failure-sample'), /^Received: from Servernameone/);
  assert.match(await p.textContent('dl.meta'), /dmarc=fail \(p=none, dis=none\) header\.from=domain\.de/);
  assert.match(await p.textContent('dl.meta'), /Forwardedno sign of it from the receiver or the source/);
  await p.screenshot({ path: join(artifacts, 'failure.png'), fullPage: false });
  assert.deepEqual(errors, []);
  await p.close();
  // The NetEase report: SPF and DKIM results from its Authentication-Results.
  const { p: q } = await open(`${failing.url}/#/failures`, 'failures');
  const netease = await q.locator('table[data-table="failures"] tbody tr', { hasText: 'cardinal.com' }).locator('td').allTextContents();
  assert.deepEqual(netease.slice(3, 6), ['pass', 'pass', 'fail']);
  await q.close();
});

test('the pass-rate line is per day over a short range and per week over a long one, from the same numbers', async () => {
  for (const [q, granularity] of [['from=2024-03-30&to=2024-04-01', 'daily'], ['from=2018-01-01&to=2018-12-31', 'weekly']]) {
    const o = await (await fetch(`${main.url}/api/overview?${q}`)).json();
    const { p, errors } = await open(`${main.url}/#/overview?${q}`, 'overview');
    const el = p.locator('section .chart').first();
    assert.equal(await el.getAttribute('data-trend'), granularity);
    const values = JSON.parse(await el.getAttribute('data-trend-values'));
    assert.equal(values.length, Number(await el.getAttribute('data-points')));
    // Expected: DMARC pass / messages per day, or per Monday-to-Sunday week at its first day.
    const byKey = new Map();
    const keyOf = (day) => {
      if (granularity === 'daily') return day;
      const ms = Date.parse(`${day}T00:00:00Z`);
      return new Date(ms - ((new Date(ms).getUTCDay() + 6) % 7) * 86400e3).toISOString().slice(0, 10);
    };
    for (const d of o.daily) {
      const s = byKey.get(keyOf(d.day)) || [0, 0];
      byKey.set(keyOf(d.day), [s[0] + d.dmarc_pass, s[1] + d.messages]);
    }
    const shown = values.filter((v) => v !== null);
    const want = [...byKey.values()].filter(([, all]) => all > 0).map(([pass, all]) => Math.round((1000 * pass) / all) / 10);
    assert.deepEqual(shown, want, q);
    assert.deepEqual(errors, []);
    await p.close();
  }
});

test('an empty DNS-name column says why and how to fill it in', async () => {
  const e = await (await fetch(`${main.url}/api/enrichment`)).json();
  assert.equal(e.mode, null);  // serve does not enrich
  assert.ok(e.pending_addresses > 0, 'imported --offline: addresses wait for DNS');
  for (const [page, name] of [['overview', 'overview'], ['sources?group=ip', 'sources'], ['records', 'records']]) {
    const { p, errors } = await open(`${main.url}/#/${page}`, name);
    const note = p.locator('.empty-columns [data-column="reverse_dns"]');
    await note.waitFor();
    const text = await note.textContent();
    assert.match(text, /No DNS names \(PTR\) yet — enrichment pending/, page);
    assert.ok(text.includes(`${e.pending_addresses.toLocaleString('en-US')} address`), text);
    assert.ok(text.includes('dmarc-report enrich'), text);
    assert.deepEqual(errors, []);
    await p.close();
  }
  // Names present (the hostile store has them): no note.
  const { p } = await open(`${hostile.url}/#/sources?group=ip`, 'sources');
  assert.equal(await p.locator('.empty-columns').count(), 0);
  await p.close();
});

async function assertInert(p, where) {
  assert.equal(await p.evaluate(() => window.__xss), undefined, `${where}: a payload script ran`);
  assert.equal(await p.locator('#app img, #app script, #app [onerror]').count(), 0, `${where}: payload rendered as markup`);
}

test('hostile report fields run no script and render as text on every page', async () => {
  const pages = [...PAGES, 'sources?group=ip', 'sources?group=ptr', 'sources?group=asn', 'sources?group=country',
    'records?source_group=ip&source_value=192.0.2.66', 'report?id=1'];
  for (const page of pages) {
    const name = page.split('?')[0];
    const { p, errors } = await open(`${hostile.url}/#/${page}`, name);
    await assertInert(p, page);
    assert.deepEqual(errors, [], `${page}: console errors`);
    const text = await p.textContent('main');
    assert.ok(text.includes('<img src=x onerror='), `${page}: payload not shown as text`);
    await p.screenshot({ path: join(artifacts, `hostile-${page.replace(/[^a-z0-9]+/gi, '-')}.png`), fullPage: false });
    await p.close();
  }
  // The report's raw XML: its markup, entity-escaped payloads and an unescaped payload in a
  // comment are all shown as text.
  const { p: rp, errors: rerrors } = await open(`${hostile.url}/#/report?id=1`, 'report');
  const raw = await rp.textContent('pre.raw-xml-text');
  assert.ok(raw.includes(`<!-- raw ${P} -->`), 'raw XML comment payload not shown as text');
  assert.ok(raw.includes('<org_name>org&lt;img src=x onerror='), 'raw XML not shown as received');
  await assertInert(rp, 'report raw XML');
  assert.deepEqual(rerrors, []);
  await rp.close();
  const { p } = await open(`${hostile.url}/#/failures`, 'failures');
  assert.ok(!(await p.textContent('main')).includes('secret sample'), 'a failure sample shown without --show-failure-samples');
  await p.close();
  const { p: fp, errors: ferrors } = await open(`${hostile.url}/#/failure?id=1`, 'failure');
  const shown = await fp.textContent('main');
  assert.ok(!shown.includes('secret sample'), 'a failure sample shown without --show-failure-samples');
  assert.ok(shown.includes('The reported message is hidden'), shown);
  assert.ok(shown.includes(`s${P}`), 'the subject payload not shown as text');
  await assertInert(fp, 'failure report');
  assert.deepEqual(ferrors, []);
  await fp.close();
});

test('with authentication, the dashboard asks to sign in, then shows the data', async () => {
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, 'browser-test-98879e631813d448516a16cea43910bf\n');
  const guarded = await serve(mainDb, ['--token-file', tokenFile]);
  try {
    const p = await browser.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(String(e)));
    await p.goto(`${guarded.url}/#/overview`);
    await p.waitForSelector('form.login');
    assert.equal(await p.locator('[data-kpi]').count(), 0, 'data shown before signing in');
    await p.fill('form.login input[name=token]', 'wrong-token-wrong-token');
    await p.click('form.login button[type=submit]');
    await p.waitForSelector('form.login [role=alert]:has-text("Wrong")');
    await p.fill('form.login input[name=token]', 'browser-test-98879e631813d448516a16cea43910bf');
    await p.click('form.login button[type=submit]');
    await p.waitForSelector('body[data-ready="overview"] [data-kpi="messages"]');
    assert.equal(Number(await p.getAttribute('[data-kpi="messages"]', 'data-value')), stats(mainDb, {}).messages);
    const cookies = await browser.cookies(guarded.url);
    const session = cookies.find((c) => c.name === 'session');
    assert.ok(session && session.httpOnly && session.sameSite === 'Strict', 'session cookie flags');
    // Signing out ends the session on the server: its cookie no longer opens the API.
    await p.click('header button.signout[data-session="true"]');
    await p.waitForSelector('form.login');
    assert.equal((await browser.cookies(guarded.url)).find((c) => c.name === 'session'), undefined, 'cookie kept');
    const old = await fetch(`${guarded.url}/api/stats`, { headers: { Cookie: `session=${session.value}` } });
    assert.equal(old.status, 401);
    assert.equal(await p.locator('header button.signout:visible').count(), 0, 'sign-out shown when signed out');
    assert.deepEqual(errors, []);
    await p.close();
  } finally {
    guarded.child.kill();
  }
});

test('the HTML report opens offline from a file with the same numbers', async () => {
  {
    const file = join(work, 'domain.html');
    run(['report', '--db', mainDb, '--html', file, '--domain', 'example.com', '--from', '2018-01-01']);
    const { p, errors } = await open(`${pathToFileURL(file).href}#/overview`, 'overview');
    const s = stats(mainDb, { domain: 'example.com', from: '2018-01-01' });
    assert.equal(Number(await p.getAttribute('[data-kpi="messages"]', 'data-value')), s.messages);
    assert.deepEqual(errors, []);
    await p.close();
    // A report of one domain carries the advisor's summary: the Enforcement page, offline.
    const advice = JSON.parse(run(['advise', '--db', mainDb, '--domain', 'example.com', '--json']));
    const e = await open(`${pathToFileURL(file).href}#/enforcement`, 'enforcement');
    assert.equal(await e.p.locator('main [data-rule]').getAttribute('data-rule'), advice.recommendation.rule);
    assert.equal(await e.p.locator('[data-simulation]').getAttribute('data-simulation'),
      `${advice.simulation.approved_blocked}/${advice.simulation.forwarded_hit}/${advice.simulation.spoofing_blocked}`);
    assert.equal(await e.p.locator('select[name=days]').count(), 0, 'no period picker in a saved report');
    assert.deepEqual(e.errors, []);
    await e.p.close();
  }
  for (const [db, tag] of [[mainDb, 'main'], [hostileDb, 'hostile']]) {
    const file = join(work, `${tag}.html`);
    run(['report', '--db', db, '--html', file]);
    const s = stats(db, {});
    for (const page of ['overview', 'sources', 'domains']) {
      const { p, errors } = await open(`${pathToFileURL(file).href}#/${page}`, page);
      assert.deepEqual(errors, [], `${tag} ${page}: console errors`);
      await assertInert(p, `${tag} report ${page}`);
      if (page === 'overview') {
        assert.equal(Number(await p.getAttribute('[data-kpi="messages"]', 'data-value')), s.messages);
        await p.screenshot({ path: join(artifacts, `report-${tag}.png`), fullPage: false });
      }
      await p.close();
    }
  }
});

// The CSV a list table's download button gives, as rows of fields (the test's own small parser:
// quoted fields, doubled quotes, CRLF lines).
async function downloadCsv(p, list) {
  const [download] = await Promise.all([p.waitForEvent('download'), p.click(`[data-list="${list}"] .list-csv`)]);
  const text = readFileSync(await download.path(), 'utf8');
  assert.ok(text.endsWith('\r\n'), 'CSV lines end with CRLF');
  return text.slice(0, -2).split('\r\n').map((line) => {
    const fields = [];
    const re = /"((?:[^"]|"")*)"|([^,]*)/y;
    for (let at = 0; at <= line.length;) {
      re.lastIndex = at;
      const m = re.exec(line);
      fields.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]);
      at = re.lastIndex + 1;
    }
    return fields;
  });
}

const listState = (p, list) => p.$eval(`[data-list="${list}"]`, (el) => ({
  shown: Number(el.dataset.shown), total: Number(el.dataset.total),
  rows: el.querySelectorAll('tbody tr').length, count: el.querySelector('.list-count').textContent }));

test('a long list says N of M, loads more, searches every row and downloads them all as CSV', async () => {
  for (const [url, tag] of [[big.url, 'served'], [null, 'saved report']]) {
    let base = url;
    if (!url) {
      const file = join(work, 'big.html');
      run(['report', '--db', bigDb, '--html', file]);
      base = pathToFileURL(file).href;
    }
    const { p, errors } = await open(`${base}#/sources?group=ip`, 'sources');
    let s = await listState(p, 'sources');
    assert.deepEqual(s, { shown: 100, total: BIG_SOURCES, rows: 100, count: `100 of ${BIG_SOURCES.toLocaleString('en-US')} IPs` }, tag);
    // The largest first: i = 1233 (10.20.4.233) with 1234 messages.
    assert.equal(await p.textContent('[data-list="sources"] tbody tr:first-child td:first-child'), '10.20.4.233');
    await p.click('[data-list="sources"] .list-more');
    await p.waitForFunction(() => document.querySelector('[data-list="sources"]').dataset.shown === '200');
    s = await listState(p, 'sources');
    assert.equal(s.rows, 200, tag);
    assert.equal(s.count, `200 of ${BIG_SOURCES.toLocaleString('en-US')} IPs`, tag);
    // The whole list as CSV: more rows than the API's largest page.
    let csv = await downloadCsv(p, 'sources');
    assert.deepEqual(csv[0], ['IP', 'PTR', 'Service', 'Country', 'Messages', 'DMARC pass', 'SPF aligned', 'DKIM aligned'], tag);
    assert.equal(csv.length - 1, BIG_SOURCES, `${tag}: CSV rows`);
    assert.equal(new Set(csv.slice(1).map((r) => r[0])).size, BIG_SOURCES, `${tag}: each address once`);
    assert.deepEqual(csv[1].slice(0, 1).concat(csv[1][4]), ['10.20.4.233', '1234'], tag);
    // A search narrows the table (all matching rows, not only the loaded ones) and the CSV.
    await p.fill('[data-list="sources"] .list-search', '10.20.3.');
    await p.waitForFunction(() => document.querySelector('[data-list="sources"]').dataset.total === '250');
    s = await listState(p, 'sources');
    assert.deepEqual([s.shown, s.rows], [100, 100], tag);
    assert.match(s.count, /^100 of 250 IPs matching “10\.20\.3\.”$/, tag);
    const ips = await p.$$eval('[data-list="sources"] tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
    assert.ok(ips.every((ip) => ip.startsWith('10.20.3.')), `${tag}: ${ips.slice(0, 5)}`);
    csv = await downloadCsv(p, 'sources');
    assert.equal(csv.length - 1, 250, `${tag}: CSV rows of the search`);
    assert.ok(csv.slice(1).every((r) => r[0].startsWith('10.20.3.')), tag);
    await p.fill('[data-list="sources"] .list-search', 'no such source');
    await p.waitForFunction(() => document.querySelector('[data-list="sources"]').dataset.total === '0');
    assert.match(await p.textContent('[data-list="sources"] .state'), /No IPs match/);
    assert.deepEqual(errors, [], tag);
    await p.close();
  }
  // The API's view of the same list: its total and its pages.
  const page = await (await fetch(`${big.url}/api/sources?group=ip&limit=1000&offset=1000`)).json();
  assert.equal(page.total, BIG_SOURCES);
  assert.equal(page.rows.length, BIG_SOURCES - 1000);
  const capped = await (await fetch(`${big.url}/api/records?limit=5000`)).json();
  assert.equal(capped.limit, 1000);
  assert.equal(capped.rows.length, 1000);
  assert.equal(capped.total, BIG_SOURCES);
  const bad = await fetch(`${big.url}/api/records?q=${'x'.repeat(101)}`);
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /^q: /);
});

test('a CSV cell a spreadsheet would read as a formula is neutralised; quotes are escaped', async () => {
  const { p, errors } = await open(`${big.url}/#/reporters`, 'reporters');
  const csv = await downloadCsv(p, 'reporters');
  assert.equal(csv[0][0], 'Organisation');
  assert.equal(csv.length, 2);
  assert.equal(csv[1][0], `'${FORMULA_ORG}`);
  assert.equal(await p.textContent('[data-list="reporters"] tbody td:first-child'), FORMULA_ORG);
  assert.deepEqual(errors, []);
  await p.close();
});
