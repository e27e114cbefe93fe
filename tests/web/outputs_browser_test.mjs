// Browser test of the dashboard's red "output failing" badge (web/src/outputs.js, GET
// /api/outputs, docs/outputs.md): the real binary imports example reports into stores whose
// webhook outputs fail (a loopback port where nothing listens) or deliver (a receiver in this
// process); `serve` serves them; Debian's Chromium (headless, playwright-core) opens the pages.
//
//   node tests/web/outputs_browser_test.mjs BINARY ARTIFACT_DIR
//
// Checks: with one failing output the badge says "Output NAME failing", its title names the
// output with its backlog and last error (the ones `dmarc-report outputs --json` prints), it
// links to the status page, whose output card shows the backlog, error and retries; with two
// failing outputs it says "2 outputs failing" and the title lists both, a payload in a last
// error staying text (no script runs, no element made) in the badge and on the status page, and
// the header fitting a 390 px screen, with a 64-character output name too; hidden (data-failing
// "0") on a store whose output delivers (its card "ok") and on one without outputs, "unknown"
// when the API fails; read again every minute while the page stays open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root, binary, artifacts, CHROMIUM, P, sqlText, workDir, run, serve, launchBrowser } from './harness.mjs';

const EXAMPLES = join(root, 'testdata/real/parsedmarc-samples/aggregate');
// Three distinct aggregate reports: three outbox entries per output.
const REPORTS = ['example.net!example.com!1529366400!1529452799.xml',
  'usssa.com!example.com!1538784000!1538870399.xml', 'empty_reason.xml'].map((f) => join(EXAMPLES, f));

// The longest name an output may have (64 characters, no hyphen to break at).
const LONG = 'elasticsearch_production_cluster_europe_west_dmarc_aggregate_v22';

const work = workDir('dmarc-outputs-web-');
const secret = join(work, 'webhook.secret');

const sql = (db, text) => execFileSync('sqlite3', [db, text], { encoding: 'utf8' });

// The binary, asynchronously (the receiver below answers from this process's event loop):
// resolves with { code, stdout, stderr }.
function runAsync(args) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = ''; let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

// A loopback port that was free a moment ago and where nothing listens now.
function closedPort() {
  return new Promise((resolvePort) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolvePort(port)); });
  });
}

// A configuration of the store db with a webhook output per name → URL.
function config(name, db, hooks) {
  const file = join(work, `${name}.toml`);
  let text = `[store]\nurl = "sqlite:${db}"\n[enrich]\noffline = true\n`;
  for (const [output, url] of Object.entries(hooks)) {
    text += `[output.${output}]\ntype = "webhook"\nurl = "${url}"\nsecret_file = "${secret}"\n`;
  }
  writeFileSync(file, text);
  return file;
}

// `dmarc-report outputs --config CFG --json`: its exit status and object.
async function outputsOf(cfg) {
  const r = await runAsync(['outputs', '--config', cfg, '--json']);
  return { code: r.code, json: JSON.parse(r.stdout) };
}

// An output's last error without its name in front (the outputs' errors begin with it).
const errorOf = (x) => ((x.last_error || '').startsWith(`${x.name}: `) ? x.last_error.slice(x.name.length + 2) : x.last_error);
// What the badge's title says of these outputs (the API's objects).
const titleOf = (outputs) => outputs.map((x) => `${x.name}: ${x.backlog} waiting; ${errorOf(x) || 'no error recorded'}`).join('\n');

let browser; let receiver; const posts = [];
const servers = {};
const api = {};  // GET /api/outputs of each store, as served
const cli = {};  // `outputs --json` of each store with a configuration

before(async () => {
  assert.ok(existsSync(binary), `no binary at ${binary}`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (scripts/install-deps.sh installs it)`);
  writeFileSync(secret, 'outputs-browser-test-secret\n', { mode: 0o600 });
  const dead = `http://127.0.0.1:${await closedPort()}/`;
  // A receiver that takes every report.
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { posts.push({ key: req.headers['x-dmarc-report-key'], body }); res.writeHead(200).end('{}'); });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const live = `http://127.0.0.1:${receiver.address().port}/hook`;

  const stores = {
    one: { hooks: { hook: dead } },                          // one output, failing
    two: { hooks: { hook: dead, 'archive-2': dead } },       // two outputs, both failing
    healthy: { hooks: { hook: live } },                      // one output, delivering
    long: { hooks: { [LONG]: dead } },                       // one output, failing, a long name
  };
  for (const [name, s] of Object.entries(stores)) {
    s.db = join(work, `${name}.db`);
    s.cfg = config(name, s.db, s.hooks);
    // import stores the reports, queues them, tries each output once at the end: exit status 3
    // when an output is left with reports waiting (a dead receiver), else 0 (1: a rejected input).
    const r = await runAsync(['import', '--config', s.cfg, '--offline', '--quiet', ...REPORTS]);
    const failing = Object.values(s.hooks).includes(dead);
    assert.ok(r.code === (failing ? 3 : 0) || r.code === 1, `import ${name}: exit ${r.code}: ${r.stderr}`);
    cli[name] = await outputsOf(s.cfg);
  }
  // A store of the same reports without any output (import --db alone has none).
  const bare = join(work, 'bare.db');
  run(['import', '--offline', '--quiet', '--db', bare, ...REPORTS]);
  // A payload in one last error (the real program writes only its own errors there; a receiver's
  // answer may end up in it, so it is a stranger's text).
  sql(stores.two.db, `UPDATE output_state SET last_error = ${sqlText(`archive-2: HTTP 502 ${P}`)} WHERE name = 'archive-2';`);
  for (const [name, db] of [...Object.entries(stores).map(([n, s]) => [n, s.db]), ['bare', bare]]) {
    servers[name] = await serve(db);
    api[name] = await (await fetch(`${servers[name].url}/api/outputs`)).json();
  }
  browser = await launchBrowser(work);
});

after(async () => {
  await browser?.close();
  for (const s of Object.values(servers)) s.child.kill();
  receiver?.close();
  rmSync(work, { recursive: true, force: true });
});

// Opens the page at url, waits until it has rendered and the badge has its answer.
async function open(url, page, width = 1280) {
  const p = await browser.newPage();
  await p.setViewportSize({ width, height: width < 500 ? 844 : 900 });
  const errors = [];
  p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss(); });
  await p.goto(url);
  await p.waitForSelector(`body[data-ready="${page}"] header.top a.outputs-badge[data-failing]`, { state: 'attached', timeout: 15000 });
  return { p, errors, badge: p.locator('header.top a.outputs-badge') };
}

test('the program records the failures the badge reads', () => {
  // One output, failing: outputs exits 1; every report waits.
  assert.equal(cli.one.code, 1);
  const hook = cli.one.json.outputs.find((x) => x.name === 'hook');
  assert.equal(hook.failing, true);
  assert.equal(hook.backlog, REPORTS.length);
  assert.ok(hook.consecutive_failures >= 1);
  assert.ok(hook.last_error, 'a last error');
  // Both outputs of the second store fail.
  assert.equal(cli.two.code, 1);
  assert.deepEqual(cli.two.json.outputs.map((x) => [x.name, x.failing, x.backlog]),
    [['archive-2', true, REPORTS.length], ['hook', true, REPORTS.length]]);
  // The delivering one: nothing waits, the receiver has every report.
  assert.equal(cli.healthy.code, 0, JSON.stringify(cli.healthy.json));
  const ok = cli.healthy.json.outputs[0];
  assert.deepEqual([ok.name, ok.failing, ok.backlog, ok.delivered], ['hook', false, 0, REPORTS.length]);
  assert.equal(new Set(posts.map((x) => x.key)).size, REPORTS.length);
  // The API serves what the command prints (less what only the configuration knows).
  for (const name of ['one', 'two', 'healthy']) {
    assert.deepEqual(api[name].outputs.map(({ name: n, failing, backlog, consecutive_failures: c }) => [n, failing, backlog, c]),
      cli[name].json.outputs.map(({ name: n, failing, backlog, consecutive_failures: c }) => [n, failing, backlog, c]), name);
  }
  assert.equal(api.one.failing, 1);
  assert.equal(api.two.failing, 2);
  assert.equal(api.healthy.failing, 0);
  assert.deepEqual(api.bare.outputs, []);
});

test('one failing output: the badge names it, its backlog and error, and leads to the status page', async () => {
  const { p, errors, badge } = await open(`${servers.one.url}/#/overview`, 'overview');
  await p.screenshot({ path: join(artifacts, 'outputs-badge.png') });
  assert.ok(await badge.isVisible(), 'the badge is shown');
  assert.equal(await badge.getAttribute('data-failing'), '1');
  assert.equal((await badge.textContent()).trim(), 'Output hook failing');
  const hook = cli.one.json.outputs[0];
  const title = await badge.getAttribute('title');
  assert.ok(hook.last_error.startsWith('hook: '), hook.last_error);
  assert.equal(title, `hook: ${REPORTS.length} waiting; ${hook.last_error.slice('hook: '.length)}`);
  assert.equal(title, titleOf(api.one.outputs));
  assert.equal(await badge.getAttribute('href'), '#/status');
  assert.equal(await badge.getAttribute('role'), 'alert');
  // Red, on the dark header.
  assert.equal(await badge.evaluate((a) => getComputedStyle(a).backgroundColor), 'rgb(207, 34, 46)');
  await badge.click();
  await p.waitForSelector('body[data-ready="status"] header.top a.outputs-badge[data-failing="1"]', { timeout: 15000 });
  assert.equal(await p.evaluate(() => location.hash), '#/status');
  assert.equal(await p.locator('main h1').textContent(), 'Ingest status');
  assert.ok(await badge.isVisible(), 'still shown on the status page');
  // The status page shows the output: failing, its backlog, its error (as the CLI tells them).
  const card = p.locator('section.card.output[data-output="hook"]');
  assert.equal(await card.getAttribute('data-state'), 'failing');
  const text = await card.textContent();
  assert.ok(text.includes(`${REPORTS.length} report(s), oldest queued`), text);
  assert.ok(text.includes(hook.last_error.slice('hook: '.length)), text);
  assert.ok(text.includes(`${hook.consecutive_failures} attempt(s) failed in a row`), text);
  assert.ok(text.includes('0 delivered'), text);
  assert.deepEqual(errors, []);
  await p.close();
});

test('two failing outputs: "2 outputs failing", both in the title, a payload as text', async () => {
  const { p, errors, badge } = await open(`${servers.two.url}/#/overview`, 'overview');
  assert.ok(await badge.isVisible());
  assert.equal(await badge.getAttribute('data-failing'), '2');
  assert.equal((await badge.textContent()).trim(), '2 outputs failing');
  const title = await badge.getAttribute('title');
  assert.equal(title, titleOf(api.two.outputs));
  const lines = title.split('\n');
  assert.equal(lines.length, 2);
  assert.equal(lines[0], `archive-2: ${REPORTS.length} waiting; HTTP 502 ${P}`);
  assert.ok(lines[1].startsWith(`hook: ${REPORTS.length} waiting; `), lines[1]);
  // The payload stayed text: nothing ran, no element was made of it.
  await p.waitForTimeout(300);
  assert.equal(await p.evaluate(() => window.__xss), undefined);
  assert.equal(await p.locator('header.top img, header.top script, a.outputs-badge *').count(), 0);
  assert.equal(await p.locator('img[src="x"]').count(), 0);
  // On the status page too, in the output's card.
  await badge.click();
  await p.waitForSelector('body[data-ready="status"] section.card.output[data-output="archive-2"]', { timeout: 15000 });
  const card = p.locator('section.card.output[data-output="archive-2"]');
  assert.ok((await card.textContent()).includes(`HTTP 502 ${P}`));
  assert.equal(await p.locator('section.card.output').count(), 2);
  await p.waitForTimeout(300);
  assert.equal(await p.evaluate(() => window.__xss), undefined);
  assert.equal(await p.locator('section.card.output img, section.card.output script').count(), 0);
  assert.deepEqual(errors, []);
  await p.close();
});

test('at a 390 px phone\'s width the badge stays on the screen', async () => {
  for (const name of ['one', 'two']) {
    const { p, errors, badge } = await open(`${servers[name].url}/#/overview`, 'overview', 390);
    await p.waitForTimeout(100);
    const [scroll, inner] = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= inner, `${name}: the page is ${scroll}px wide on a ${inner}px screen`);
    const box = await badge.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= inner, `${name}: the badge is at ${JSON.stringify(box)}`);
    await p.screenshot({ path: join(artifacts, `outputs-badge-${name}-390.png`) });
    assert.deepEqual(errors, []);
    await p.close();
  }
});

// "Output <64 characters> failing" is wider than a phone: the badge wraps it (overflow-wrap)
// instead of making the whole page scroll sideways.
test('at a 390 px phone\'s width a badge naming the longest output name stays on the screen', async () => {
  const { p, errors, badge } = await open(`${servers.long.url}/#/overview`, 'overview', 390);
  assert.equal((await badge.textContent()).trim(), `Output ${LONG} failing`);
  await p.screenshot({ path: join(artifacts, 'outputs-badge-long-390.png') });
  try {
    const [scroll, inner] = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= inner, `the page is ${scroll}px wide on a ${inner}px screen`);
    const box = await badge.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= inner, `the badge is at ${JSON.stringify(box)}`);
    assert.deepEqual(errors, []);
  } finally {
    await p.close();
  }
});

test('no badge when every output delivers, or there is none', async () => {
  for (const name of ['healthy', 'bare']) {
    for (const page of ['overview', 'status']) {
      const { p, errors, badge } = await open(`${servers[name].url}/#/${page}`, page);
      assert.equal(await badge.getAttribute('data-failing'), '0', `${name} ${page}`);
      assert.equal(await badge.isVisible(), false, `${name} ${page}`);
      assert.equal(await badge.textContent(), '');
      if (page === 'status') {
        // The status page lists the healthy output as ok, and says when there is none.
        const cards = p.locator('section.card.output');
        if (name === 'healthy') {
          assert.equal(await cards.count(), 1);
          assert.equal(await cards.first().getAttribute('data-state'), 'ok');
          assert.ok((await cards.first().textContent()).includes(`${REPORTS.length} delivered`));
        } else {
          assert.equal(await cards.count(), 0);
          assert.ok((await p.locator('main').textContent()).includes('No output delivers reports elsewhere'));
        }
      }
      assert.deepEqual(errors, []);
      await p.close();
    }
  }
});

test('no badge when the API cannot tell', async () => {
  const p = await browser.newPage();
  await p.route('**/api/outputs*', (r) => r.fulfill({ status: 500, contentType: 'application/json', body: '{"error":"x"}' }));
  await p.goto(`${servers.one.url}/#/overview`);
  const badge = p.locator('header.top a.outputs-badge');
  await p.waitForSelector('body[data-ready="overview"] header.top a.outputs-badge[data-failing="unknown"]', { state: 'attached', timeout: 15000 });
  assert.equal(await badge.isVisible(), false);
  await p.close();
});

// A dashboard left open reads the outputs again every minute while the badge is on the page:
// an output that recovers hides the badge, one that fails again shows it, without a reload.
test('the badge follows the outputs while the page stays open', async () => {
  const p = await browser.newPage();
  await p.clock.install();
  let answer = api.one;
  let asked = 0;
  await p.route('**/api/outputs*', (r) => {
    ++asked;
    r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answer) });
  });
  await p.goto(`${servers.one.url}/#/overview`);
  const badge = p.locator('header.top a.outputs-badge');
  await p.waitForSelector('body[data-ready="overview"] header.top a.outputs-badge[data-failing="1"]', { timeout: 15000 });
  const first = asked;
  answer = api.healthy;  // the receiver is back
  await p.clock.runFor(61000);
  await p.waitForSelector('header.top a.outputs-badge[data-failing="0"]', { state: 'attached', timeout: 5000 });
  assert.equal(await badge.isVisible(), false);
  assert.equal(await badge.getAttribute('title'), null);
  assert.equal(asked, first + 1, 'one more look after a minute');
  answer = api.two;  // both fail
  await p.clock.runFor(60000);
  await p.waitForSelector('header.top a.outputs-badge[data-failing="2"]', { timeout: 5000 });
  assert.equal((await badge.textContent()).trim(), '2 outputs failing');
  // Moving to another page replaces the header: one badge asks, not one per page drawn.
  await p.evaluate(() => { location.hash = '#/status'; });
  await p.waitForSelector('body[data-ready="status"] header.top a.outputs-badge[data-failing="2"]', { timeout: 15000 });
  const afterRedraw = asked;
  const card = (name) => p.locator(`main section.card.output[data-output="${name}"]`);
  assert.equal(await card('archive-2').getAttribute('data-state'), 'failing');
  // The status page's output cards follow the badge's answers: the output that recovers turns
  // ok there too, without a reload and without a second request.
  answer = api.healthy;
  await p.clock.runFor(60000);
  await p.waitForSelector('header.top a.outputs-badge[data-failing="0"]', { state: 'attached', timeout: 5000 });
  const healthy = api.healthy.outputs[0].name;
  await p.waitForSelector(`main section.card.output[data-output="${healthy}"][data-state="ok"]`, { timeout: 5000 });
  assert.equal(await p.locator('main section.card.output[data-state="failing"]').count(), 0);
  await p.waitForTimeout(200);
  assert.equal(asked, afterRedraw + 1, 'the replaced badge stopped asking; the cards asked nothing');
  await p.close();
});
