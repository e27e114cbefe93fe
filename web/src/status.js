// The ingest status page (GET /api/status, docs/api.md), the overview's first-run state, and the
// refresh of the dashboard while `run` or `fetch` imports. Every value comes from the store, and
// texts in it from strangers (mailbox names, servers' errors, file names): put in the page with
// textContent only, never parsed as HTML.

// Seconds between two looks at /api/status while an import runs.
export const STATUS_POLL_MS = 3000;

function el(tag, className, ...children) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const num = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
const when = (t) => (t ? `${t} UTC` : '–');

// Every function below takes `getStatus`: a function that resolves with GET /api/status's object
// (main.js passes its api('status'), which throws its ApiError, 401 included, for the shell).

// "19 files being processed…": while the store has no report yet and a source is being polled.
export function firstRunText(s) {
  if (!s || s.has_reports || !s.in_progress || !s.in_progress.sources) return null;
  const { done, total } = s.in_progress;
  if (!total) return 'Looking for reports to import…';
  const left = Math.max(0, total - done);
  return `${num(total)} ${total === 1 ? 'file' : 'files'} being processed… (${num(done)} done, ${num(left)} to go)`;
}

// The overview's first-run state, or null (no import running, the store has reports, or no
// status to ask: the saved HTML report).
export async function firstRunNotice(getStatus) {
  let s;
  try { s = await getStatus(); } catch { return null; }
  drawn = progressOf(s);
  const text = firstRunText(s);
  if (!text) return null;
  const box = el('div', 'state', text, el('div', 'note',
    'The first reports appear here as soon as they are stored; this page refreshes itself.'));
  box.setAttribute('role', 'status');
  box.dataset.firstRun = String(s.in_progress.total);
  return box;
}

// ---------------------------------------------------------------------------------------------
// Refresh while an import runs: /api/status is read every STATUS_POLL_MS while a source is being
// polled; each time its progress changed, and once when it ends, onChange() redraws the page.
// Nothing runs while no import does (the page is drawn once; a reload finds a new import).

let watching = null;
// The progress the page just drawn showed (null: it showed none), so that an import that ended
// between drawing the page and the first look is seen as a change.
let drawn = null;
const progressOf = (s) => JSON.stringify((s.sources || []).map((x) => [x.name, x.state, x.inputs.done, x.inputs.total]));
const busy = (s) => Boolean(s.in_progress && s.in_progress.sources);

export function watchIngest(getStatus, onChange) {
  if (watching) {
    watching.onChange = onChange;
    drawn = null;
    return;
  }
  watching = { onChange, last: drawn, timer: null };
  drawn = null;
  const w = watching;
  const tick = async () => {
    let s;
    try { s = await getStatus(); } catch { watching = null; return; }
    const now = progressOf(s);
    const changed = w.last !== null && now !== w.last;
    // A person typing in a form (the filter bar) is not interrupted: the change is kept for the
    // next look.
    const typing = document.activeElement?.closest?.('form');
    if (changed && typing) {
      w.timer = setTimeout(tick, STATUS_POLL_MS);
      return;
    }
    w.last = now;
    if (busy(s)) {
      w.timer = setTimeout(tick, STATUS_POLL_MS);
    } else {
      watching = null;
    }
    if (changed) w.onChange();
  };
  tick();
}

// ---------------------------------------------------------------------------------------------
// The page.

const STATE_CLASS = { idle: 'pass', polling: 'muted', error: 'fail', disabled: 'muted' };

function sourceCard(s) {
  const r = s.reports;
  const meta = el('dl', 'meta');
  const add = (k, v) => meta.append(el('dt', null, k), el('dd', null, v));
  add('Kind', s.kind);
  if (s.state === 'polling') add('In progress', `${num(s.inputs.done)} of ${num(s.inputs.total)} inputs`);
  const ended = s.state !== 'polling' && s.poll_ended_at ? `, ended ${when(s.poll_ended_at)}` : '';
  add('Last poll', s.poll_started_at ? `${when(s.poll_started_at)}${ended}` : 'never');
  add('Next poll', s.next_poll_at ? when(s.next_poll_at) : (s.state === 'disabled' ? 'none (nothing collects from it now)' : 'none scheduled'));
  add('Mails', `${num(s.mails.stored)} stored, ${num(s.mails.invalid)} invalid, ${num(s.mails.left)} left in the mailbox`);
  add('Aggregate reports', `${num(r.aggregate.new)} new, ${num(r.aggregate.duplicate)} duplicate (${num(s.records)} records)`);
  add('Failure reports', `${num(r.failure.new)} new, ${num(r.failure.duplicate)} duplicate`);
  add('SMTP TLS reports', `${num(r.smtp_tls.new)} new, ${num(r.smtp_tls.duplicate)} duplicate`);
  add('Rejected inputs', num(s.rejections));
  const err = el('dd', s.state === 'error' ? 'fail' : 'muted',
    s.last_error ? `${when(s.last_error_at)}: ${s.last_error}` : 'none');
  meta.append(el('dt', null, 'Last error'), err);
  add('Updated', when(s.updated_at));
  const card = el('section', 'card source',
    el('h2', null, s.name, ' ', el('span', STATE_CLASS[s.state] || 'muted', `[${s.state}]`)), meta);
  card.dataset.source = s.name;
  card.dataset.state = s.state;
  return card;
}

function rejectionsTable(rows) {
  if (!rows.length) return el('div', 'state', 'No rejected inputs: everything that arrived could be read.');
  const head = el('tr', null, ['Received', 'Input', 'Reason', 'Bytes', 'Download'].map((t) => el('th', null, t)));
  const body = el('tbody', null, rows.map((r) => {
    const a = el('a', null, 'first bytes');
    a.href = `/api/rejected/raw?id=${encodeURIComponent(r.id)}`;
    a.setAttribute('download', `rejected-${Number(r.id)}.bin`);
    return el('tr', null, el('td', null, r.received_at), el('td', null, r.origin), el('td', null, r.reason),
      el('td', 'num', num(r.size)), el('td', null, a));
  }));
  const table = el('table', null, el('thead', null, head), body);
  table.dataset.table = 'status-rejected';
  return el('div', 'table-wrap', table);
}

// A time of GET /api/outputs (Unix seconds, null: never) as the status page writes times.
const epoch = (t) => (t ? `${new Date(t * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC` : 'never');

// An output's error without its name in front (the outputs' errors begin with it).
export function outputError(o) {
  const e = o.last_error || '';
  return e.startsWith(`${o.name}: `) ? e.slice(o.name.length + 2) : e;
}

function outputCard(o) {
  const meta = el('dl', 'meta');
  const add = (k, v, cls) => meta.append(el('dt', null, k), el('dd', cls || null, v));
  add('Backlog', o.backlog ? `${num(o.backlog)} report(s), oldest queued ${epoch(o.oldest_queued_at)}` : 'none');
  add('Last success', epoch(o.last_success_at));
  add('Last error', o.last_error ? `${epoch(o.last_error_at)}: ${outputError(o)}` : 'none', o.failing ? 'fail' : 'muted');
  if (o.failing) add('Retry', `${num(o.consecutive_failures)} attempt(s) failed in a row; next ${epoch(o.next_attempt_at)}`);
  add('Totals', `${num(o.delivered)} delivered, ${num(o.dropped)} refused for good, ${num(o.failures)} failed attempts`);
  const state = o.failing ? 'failing' : 'ok';
  const card = el('section', 'card output',
    el('h2', null, o.name, ' ', el('span', o.failing ? 'fail' : 'pass', `[${state}]`)), meta);
  card.dataset.output = o.name;
  card.dataset.state = state;
  return card;
}

// The event the header's outputs badge (outputs.js) sends on document with each GET /api/outputs
// answer it reads (every minute): the status page's cards follow it, without asking again.
export const OUTPUTS_EVENT = 'dmarc-outputs';

function outputsContent(o) {
  return o.outputs.length
    ? el('div', 'sources', o.outputs.map(outputCard))
    : el('p', 'note', 'No output delivers reports elsewhere ([output.NAME] in the configuration, docs/outputs.md).');
}

// The outputs' part of the page (GET /api/outputs); null when the API cannot tell. Redrawn with
// every answer the badge reads while it is on the page.
async function outputsSection(getOutputs) {
  let o;
  try { o = await getOutputs(); } catch { return null; }
  const box = el('div', 'outputs', outputsContent(o));
  const follow = (e) => {
    if (!box.isConnected) {
      document.removeEventListener(OUTPUTS_EVENT, follow);
      return;
    }
    box.replaceChildren(outputsContent(e.detail));
  };
  document.addEventListener(OUTPUTS_EVENT, follow);
  return box;
}

export async function statusPage(getStatus, getOutputs) {
  const s = await getStatus();
  drawn = progressOf(s);
  const page = el('div', null, el('h1', null, 'Ingest status'));
  const first = firstRunText(s);
  if (first) page.append(el('div', 'state', first));
  page.append(el('h2', null, 'Sources'));
  if (!s.sources.length) {
    page.append(el('div', 'state', 'No source recorded yet: `dmarc-report run` and `fetch` record each of theirs as they poll it.'));
  } else {
    page.append(el('div', 'sources', s.sources.map(sourceCard)));
  }
  const b = s.enrichment_backlog;
  const backlog = el('p', b.addresses ? null : 'note', b.addresses
    ? `${num(b.addresses)} source addresses (${num(b.records)} records) have no reverse DNS answer yet; enrichment fills them in (\`dmarc-report enrich\` does it at once).`
    : 'None: every stored source address has had its reverse DNS lookup.');
  backlog.dataset.backlog = String(b.addresses);
  page.append(el('h2', null, 'Enrichment backlog'), backlog);
  const outputs = getOutputs ? await outputsSection(getOutputs) : null;
  if (outputs) page.append(el('h2', null, 'Outputs'), outputs);
  page.append(el('h2', null, 'Latest rejected inputs'), rejectionsTable(s.rejections));
  page.append(el('p', 'note', `As of ${when(s.now)}.`));
  return page;
}
