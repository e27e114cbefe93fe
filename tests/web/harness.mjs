// What the browser tests share: the binary and the browser they drive, a work folder, running
// the binary, and `serve` on a free loopback port.
//
//   node tests/web/<test>.mjs BINARY ARTIFACT_DIR
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
const require = createRequire(join(root, 'web/package.json'));
export const { chromium } = require('playwright-core');

export const binary = resolve(process.argv[2] || join(root, 'build/dmarc-report'));
export const artifacts = resolve(process.argv[3] || join(root, 'build/web-artifacts'));
export const CHROMIUM = '/usr/bin/chromium';

// Script and markup that would count their runs in window.__xss, were they ever run.
export const P = '<img src=x onerror="window.__xss=(window.__xss||0)+1"><script>window.__xss=(window.__xss||0)+1</script>';
export const sqlText = (s) => `'${s.replace(/'/g, "''")}'`;

// A fresh work folder (and the artifacts folder).
export function workDir(prefix) {
  mkdirSync(artifacts, { recursive: true });
  return mkdtempSync(join(tmpdir(), prefix));
}

export function run(args, opts = {}) {
  return execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

// Starts `serve` on a free loopback port; resolves with its URL once it listens.
export function serve(db, extra = []) {
  return new Promise((resolveServe, reject) => {
    const child = spawn(binary, ['serve', '--db', db, '--listen', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 15000);
    child.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/on (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) { clearTimeout(timer); resolveServe({ url: m[1], child }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${err}`)); });
  });
}

// `serve` of db behind sign-in: the bearer token, and the users `alice` (an editor: --editor)
// and `bob` (who only reads), whose passwords are "<name>-pw-1234" (signIn).
export function serveWithEditors(db, work, token) {
  const tokenFile = join(work, 'token');
  writeFileSync(tokenFile, `${token}\n`);
  const users = join(work, 'users');
  const line = (user) => run(['hash-password', '--user', user], { input: `${user}-pw-1234\n`, stdio: ['pipe', 'pipe', 'pipe'] }).trim().split('\n').pop();
  writeFileSync(users, `${line('alice')}\n${line('bob')}\n`);
  return serve(db, ['--token-file', tokenFile, '--users', users, '--editor', 'alice']);
}

// A new page of the server's dashboard at hash, signed in as a user of serveWithEditors (the
// earlier user signed out: the profile's cookies cleared); waits for `ready` (a selector).
// Collects page errors, and console errors but the 401 answers asked before signing in.
export async function signIn(browser, url, hash, user, ready) {
  await browser.clearCookies();
  const p = await browser.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('401')) errors.push(m.text()); });
  await p.goto(`${url}/${hash}`);
  await p.waitForSelector('form.login');
  await p.fill('form.login input[name=user]', user);
  await p.fill('form.login input[name=password]', `${user}-pw-1234`);
  await p.click('form.login button[type=submit]');
  await p.waitForSelector(ready);
  return { p, errors };
}

// Debian's Chromium, headless, with a profile of its own under work.
export function launchBrowser(work) {
  return chromium.launchPersistentContext(mkdtempSync(join(work, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
}
