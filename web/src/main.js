// The dmarc-report dashboard. Every value shown comes from reports written by strangers: it is
// put in the page with textContent and DOM properties only, never parsed as HTML, and charts
// draw text on a canvas (tooltips in rich-text mode, not HTML).
import * as echarts from 'echarts/core';
import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { failurePage, failuresPage } from './failures.js';
import { sendersPage } from './senders.js';
import { enforcementPage } from './enforcement.js';
import { domainPicker } from './domains.js';
import { signOutButton } from './signout.js';
import { outputsBadge } from './outputs.js';
import { emptyColumnsNote, resetEnrichment } from './empty.js';
import { trendOption } from './trend.js';
import { firstRunNotice, statusPage, watchIngest } from './status.js';

import { apiList, listTable, localList } from './table.js';

echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent,
  CanvasRenderer]);

// ---------------------------------------------------------------------------------------------
// DOM helpers: text only.

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'href') el.href = safeHref(v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Only links inside the dashboard: a fragment or an API path.
function safeHref(v) {
  const s = String(v);
  return s.startsWith('#/') || s.startsWith('/api/') ? s : '#/';
}

const fmtInt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
// Rows per UTC day ({day: 'YYYY-MM-DD', ...}, in order) with the days between them that have no
// row added as zeros, so a chart's axis is time; spans over MAX_FILLED_DAYS stay as they are
// (one bar per day with data), as thousands of empty days would hide the bars.
const MAX_FILLED_DAYS = 1000;
function everyDay(rows, keys) {
  if (rows.length < 2) return rows;
  const ms = (day) => Date.parse(`${day}T00:00:00Z`);
  const first = ms(rows[0].day);
  const span = Math.round((ms(rows[rows.length - 1].day) - first) / 86400e3);
  if (!(span < MAX_FILLED_DAYS)) return rows;
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const out = [];
  for (let i = 0; i <= span; ++i) {
    const day = new Date(first + i * 86400e3).toISOString().slice(0, 10);
    out.push(byDay.get(day) || Object.fromEntries([['day', day], ...keys.map((k) => [k, 0])]));
  }
  return out;
}
const pct = (part, whole) => (whole ? `${((100 * part) / whole).toFixed(1)}%` : '–');
const orUnknown = (v) => (v === null || v === undefined || v === '' ? '(unknown)' : String(v));

// Where an address can be (as the enrichment's ScopeOf): "private" (RFC 1918, shared, unique
// local), "reserved" (loopback, link-local, documentation, benchmarking, multicast), or null for
// the public internet. Such addresses are never given a country; the Country column says why.
const V4_SCOPES = [['10.0.0.0', 8, 'private'], ['172.16.0.0', 12, 'private'], ['192.168.0.0', 16, 'private'],
  ['100.64.0.0', 10, 'private'], ['127.0.0.0', 8, 'reserved'], ['169.254.0.0', 16, 'reserved'], ['0.0.0.0', 8, 'reserved'],
  ['192.0.0.0', 24, 'reserved'], ['192.0.2.0', 24, 'reserved'], ['198.18.0.0', 15, 'reserved'], ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'], ['224.0.0.0', 4, 'reserved'], ['240.0.0.0', 4, 'reserved']];
const v4Number = (ip) => {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
};
function ipScope(ip) {
  if (typeof ip !== 'string') return null;
  let v4 = v4Number(ip);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) v4 = v4Number(mapped[1]);
  if (v4 !== null) {
    for (const [net, bits, scope] of V4_SCOPES) {
      const size = 2 ** (32 - bits);
      if (Math.floor(v4 / size) === Math.floor(v4Number(net) / size)) return scope;
    }
    return null;
  }
  const v6 = ip.toLowerCase();
  if (!v6.includes(':')) return null;
  if (/^f[cd]/.test(v6)) return 'private';
  if (/^fe[89ab]/.test(v6) || v6.startsWith('ff') || v6.startsWith('2001:db8:') || v6 === '::1' || v6 === '::') return 'reserved';
  return null;
}
// A source's country, or the scope of an address that has none.
const countryOf = (ip, country) => (country ? String(country) : (ipScope(ip) ?? '(unknown)'));

// ---------------------------------------------------------------------------------------------
// Data: the HTTP API, or the data embedded in a self-contained HTML report.

const embedded = (() => {
  const el = document.getElementById('dmarc-data');
  return el ? JSON.parse(el.textContent) : null;
})();

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '') q.set(k, v);
  if (embedded) {
    const key = `${path}?${new URLSearchParams([...q.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))).toString()}`;
    if (key in embedded.answers) return embedded.answers[key];
    throw new ApiError(404, 'This view is not part of the saved report.');
  }
  const res = await fetch(`/api/${path}?${q.toString()}`, { credentials: 'same-origin' });
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, (body && body.error) || `HTTP ${res.status}`);
  return body;
}

// One of the API's lists for a list table (table.js): paged and searched by the API, or here in
// a saved report (whose answers hold whole lists). fields: what a search looks at here.
const list = (path, params, keys = {}) => apiList(api, path, params, { ...keys, local: !!embedded });
const SOURCE_FIELDS = ['key', 'name', 'type', 'reverse_dns', 'country', 'as_name', 'base_domain', 'asn'];
const RECORD_FIELDS = ['source_ip', 'reverse_dns', 'name', 'base_domain', 'country', 'header_from', 'envelope_from', 'envelope_to'];

// ---------------------------------------------------------------------------------------------
// Routing: #/page?filters — every view can be shared as a link.

const FILTERS = ['domain', 'from', 'to', 'failing'];
const PAGES = embedded
  ? [['overview', 'Overview'], ['sources', 'Sources'], ['domains', 'Domains'],
    ...(Object.keys(embedded.answers).some((k) => k.startsWith('advise?')) ? [['enforcement', 'Enforcement']] : [])]
  : [['overview', 'Overview'], ['sources', 'Sources'], ['domains', 'Domains'],
    ['senders', 'Senders'], ['enforcement', 'Enforcement'], ['reporters', 'Reporters'], ['reports', 'Reports'], ['failures', 'Failure reports'],
    ['smtp-tls', 'SMTP TLS'], ['rejected', 'Rejected inputs'], ['status', 'Status']];

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [page, query] = hash.split('?');
  return { page: page || 'overview', params: Object.fromEntries(new URLSearchParams(query || '')) };
}

function link(page, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return `#/${page}${s ? `?${s}` : ''}`;
}

function filtersOf(params) {
  if (embedded) return { ...embedded.filters };
  const f = {};
  for (const k of FILTERS) if (params[k]) f[k] = params[k];
  return f;
}

// ---------------------------------------------------------------------------------------------
// Building blocks: states, sortable tables, cards, charts.

function stateBox(text, kind) {
  return h('div', { class: `state${kind ? ` ${kind}` : ''}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

// columns: [{key, label, num, render(row) → Node|string, sort(row) → value}]
function table(columns, rows, opts = {}) {
  if (!rows.length) return stateBox(opts.empty || 'Nothing in this range.');
  let sortKey = opts.sortKey || null;
  let dir = opts.sortDir || -1;
  const wrap = h('div', { class: 'table-wrap' });
  const tbl = h('table', { 'data-table': opts.name || '' });
  const thead = h('thead');
  const tbody = h('tbody');
  const headRow = h('tr');
  const value = (c, r) => (c.sort ? c.sort(r) : r[c.key]);
  function draw() {
    headRow.replaceChildren(...columns.map((c) => h('th', {
      class: [c.num ? 'num' : '', sortKey === c.key ? (dir > 0 ? 'sorted-asc' : 'sorted-desc') : ''].join(' ').trim() || null,
      scope: 'col',
      onclick: () => { if (sortKey === c.key) dir = -dir; else { sortKey = c.key; dir = c.num ? -1 : 1; } draw(); },
    }, c.label)));
    const sorted = sortKey ? [...rows].sort((a, b) => {
      const c = columns.find((x) => x.key === sortKey);
      const va = value(c, a); const vb = value(c, b);
      if (va === vb) return 0;
      if (va === null || va === undefined) return 1;
      if (vb === null || vb === undefined) return -1;
      return (typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb))) * dir;
    }) : rows;
    tbody.replaceChildren(...sorted.map((r) => {
      const tr = h('tr', { class: opts.onRow ? 'clickable' : null });
      if (opts.onRow) tr.addEventListener('click', (e) => { if (!e.target.closest('a')) opts.onRow(r); });
      for (const c of columns) {
        const v = c.render ? c.render(r) : (c.num ? fmtInt(r[c.key]) : orUnknown(r[c.key]));
        tr.append(h('td', { class: c.num ? 'num' : null }, v));
      }
      return tr;
    }));
  }
  draw();
  thead.append(headRow);
  tbl.append(thead, tbody);
  wrap.append(tbl);
  return wrap;
}

function card(label, value, key, extra) {
  return h('div', { class: 'card', 'data-kpi': key, 'data-value': String(value.raw ?? '') },
    h('div', { class: 'label' }, label), h('div', { class: 'value' }, value.text), extra || null);
}

const charts = [];
function chart(option, height) {
  const el = h('div', { class: 'chart' });
  if (height) el.style.height = `${height}px`;
  // How many points the x axis has (days on a time chart): for people reading the page source
  // and for the browser tests.
  if (option.xAxis?.data) el.dataset.points = String(option.xAxis.data.length);
  // Rendered once the element is in the page (ECharts needs its size).
  requestAnimationFrame(() => {
    if (!el.isConnected) return;
    const c = echarts.init(el, null, { renderer: 'canvas' });
    c.setOption({
      animation: false,
      tooltip: { trigger: 'axis', renderMode: 'richText', confine: true },
      ...option,
    });
    charts.push(c);
  });
  return el;
}
window.addEventListener('resize', () => charts.forEach((c) => c.resize()));

function passRate(row) { return row.messages ? row.dmarc_pass / row.messages : 0; }
const rateColumn = { key: 'rate', label: 'DMARC pass', num: true, sort: passRate,
  render: (r) => h('span', { class: passRate(r) >= 0.9 ? 'pass' : 'fail' }, pct(r.dmarc_pass, r.messages)) };

function authList(items, fields) {
  if (!items || !items.length) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'auth' }, items.map((a) => h('li', {},
    h('span', { class: a.result === 'pass' ? 'pass' : 'fail' }, a.result), ' ',
    fields.map((f) => (a[f] ? `${f === 'domain' ? '' : `${f}=`}${a[f]} ` : '')).join(''))));
}

function recordColumns(withReport) {
  const cols = [
    { key: 'source_ip', label: 'IP' },
    { key: 'reverse_dns', label: 'PTR' },
    { key: 'count', label: 'Messages', num: true },
    { key: 'disposition', label: 'Disposition' },
    { key: 'dmarc_aligned', label: 'DMARC', render: (r) => h('span', { class: r.dmarc_aligned ? 'pass' : 'fail' }, r.dmarc_aligned ? 'pass' : 'fail') },
    { key: 'header_from', label: 'Header from' },
    { key: 'envelope_from', label: 'Envelope from' },
    { key: 'dkim', label: 'DKIM (domain, selector)', sort: (r) => (r.dkim[0] || {}).result, render: (r) => authList(r.dkim, ['domain', 'selector']) },
    { key: 'spf', label: 'SPF (domain, scope)', sort: (r) => (r.spf[0] || {}).result, render: (r) => authList(r.spf, ['domain', 'scope']) },
    { key: 'overrides', label: 'Overrides', sort: (r) => r.policy_override_reasons.length,
      render: (r) => r.policy_override_reasons.map((o) => `${o.type || ''}${o.comment ? `: ${o.comment}` : ''}`).join('; ') },
    { key: 'interval_begin', label: 'Interval begin' },
  ];
  if (withReport) cols.push({ key: 'org_name', label: 'Reporter', render: (r) => h('a', { href: link('report', { id: r.report }) }, r.org_name) });
  return cols;
}

// ---------------------------------------------------------------------------------------------
// Pages. Each returns a Node (or a Promise of one); f are the shared filters.

async function overviewPage(f) {
  const [o, stats] = await Promise.all([api('overview', f), api('stats', { domain: f.domain, from: f.from, to: f.to })]);
  const t = o.totals;
  const prev = o.previous;
  const delta = (key, asRate) => {
    if (!prev) return null;
    const now = asRate ? (t.messages ? t[key] / t.messages : 0) : t[key];
    const before = asRate ? (prev.messages ? prev[key] / prev.messages : 0) : prev[key];
    const d = asRate ? `${((now - before) * 100).toFixed(1)} pt` : `${now - before >= 0 ? '+' : ''}${fmtInt(now - before)}`;
    return h('div', { class: 'delta' }, `${d} vs previous`);
  };
  const page = h('div', {},
    h('h1', {}, 'Overview'),
    h('div', { class: 'cards' },
      card('Messages', { text: fmtInt(t.messages), raw: t.messages }, 'messages', delta('messages')),
      card('DMARC pass', { text: pct(t.dmarc_pass, t.messages), raw: t.dmarc_pass }, 'dmarc_pass', delta('dmarc_pass', true)),
      card('SPF aligned', { text: pct(t.spf_aligned, t.messages), raw: t.spf_aligned }, 'spf_aligned', delta('spf_aligned', true)),
      card('DKIM aligned', { text: pct(t.dkim_aligned, t.messages), raw: t.dkim_aligned }, 'dkim_aligned', delta('dkim_aligned', true)),
      card('Sources (IPs)', { text: fmtInt(t.sources), raw: t.sources }, 'sources', delta('sources')),
      card('Reporters', { text: fmtInt(t.reporters), raw: t.reporters }, 'reporters', delta('reporters')),
      card('Reports', { text: fmtInt(stats.reports), raw: stats.reports }, 'reports'),
      card('Rejected inputs', { text: fmtInt(stats.rejected_inputs), raw: stats.rejected_inputs }, 'rejected_inputs')));
  if (!t.messages) {
    page.append(h('h2', {}, 'Messages per day'), (!embedded && await firstRunNotice(() => api('status'))) || stateBox('No aggregate report data in this range. Import reports with `dmarc-report import`, or widen the filters.'));
    return page;
  }
  const daily = everyDay(o.daily, ['messages', 'dmarc_pass', 'dmarc_fail']);
  const days = daily.map((d) => d.day);
  const trend = trendOption(daily);
  const perDay = chart({
    legend: { top: 4, data: ['pass', 'fail', trend.series.name] },
    grid: { left: 60, right: 50, top: 40, bottom: 40 },
    xAxis: { type: 'category', data: days },
    yAxis: [{ type: 'value' }, trend.yAxis],
    series: [
      { name: 'pass', type: 'bar', stack: 'm', color: '#1a7f37', data: daily.map((d) => d.dmarc_pass) },
      { name: 'fail', type: 'bar', stack: 'm', color: '#cf222e', data: daily.map((d) => d.dmarc_fail) },
      trend.series,
    ],
  });
  // The line's values, for people reading the page source and for the browser tests.
  perDay.dataset.trend = trend.granularity;
  perDay.dataset.trendValues = JSON.stringify(trend.values);
  page.append(h('div', { class: 'grid2' },
    h('section', {}, h('h2', {}, `Messages per day, DMARC pass rate ${trend.granularity === 'weekly' ? 'per week' : 'per day'}`), perDay),
    h('section', {}, h('h2', {}, 'Disposition'), chart({
      tooltip: { trigger: 'item', renderMode: 'richText' },
      series: [{ type: 'pie', radius: ['35%', '65%'],
        data: Object.entries(o.by_disposition).map(([name, value]) => ({ name, value })) }],
    }))));
  page.append(h('h2', {}, 'Top sending sources'), table([
    { key: 'key', label: 'IP', render: (r) => h('a', { href: link('records', { ...f, source_group: 'ip', source_value: r.key ?? '' }) }, orUnknown(r.key)) },
    { key: 'reverse_dns', label: 'PTR' },
    { key: 'name', label: 'Service' },
    { key: 'country', label: 'Country', render: (r) => countryOf(r.key, r.country) },
    { key: 'messages', label: 'Messages', num: true },
    rateColumn,
  ], o.top_sources, { name: 'top-sources' }));
  const topEmpty = emptyColumnsNote(ui, o.top_sources, ['reverse_dns', 'name']);
  if (topEmpty) page.lastChild.before(topEmpty);
  page.append(h('h2', {}, 'By country'), table([
    { key: 'key', label: 'Country' },
    { key: 'ips', label: 'IPs', num: true },
    { key: 'messages', label: 'Messages', num: true },
    rateColumn,
  ], o.countries, { name: 'countries' }));
  if (prev) {
    const rows = [['Messages', 'messages', false], ['DMARC pass', 'dmarc_pass', true], ['SPF aligned', 'spf_aligned', true],
      ['DKIM aligned', 'dkim_aligned', true], ['Sources', 'sources', false], ['Reporters', 'reporters', false]]
      .map(([label, key, rate]) => ({ label, now: rate ? pct(t[key], t.messages) : fmtInt(t[key]), before: rate ? pct(prev[key], prev.messages) : fmtInt(prev[key]) }));
    page.append(h('h2', {}, `What changed since ${prev.from} – ${prev.to}`), table([
      { key: 'label', label: 'Measure' }, { key: 'before', label: 'Previous period' }, { key: 'now', label: 'This period' },
    ], rows, { name: 'changes' }));
  } else {
    page.append(h('p', { class: 'note' }, 'Choose both a first and a last day to compare with the previous period.'));
  }
  return page;
}

const SOURCE_NOUNS = { service: 'services', base_domain: 'base domains', ptr: 'PTR names', ip: 'IPs', asn: 'ASNs', country: 'countries' };
const GROUPS = [['service', 'Service'], ['base_domain', 'Base domain'], ['ptr', 'PTR name'], ['ip', 'IP'], ['asn', 'ASN'], ['country', 'Country']];

async function sourcesPage(f, params) {
  const group = GROUPS.some(([g]) => g === params.group) ? params.group : 'service';
  const drill = params.source_group ? { source_group: params.source_group, source_value: params.source_value ?? '' } : {};
  const page = h('div', {}, h('h1', {}, 'Sources'));
  if (drill.source_group) {
    const label = (GROUPS.find(([g]) => g === drill.source_group) || [])[1] || drill.source_group;
    page.append(h('div', { class: 'crumbs' }, h('a', { href: link('sources', { ...f, group: drill.source_group }) }, 'All sources'),
      ` › ${label}: ${orUnknown(drill.source_value)} › by ${group}`));
  } else {
    page.append(h('p', { class: 'note' }, 'Who is sending as you, and does it pass? Click a row to see its IP addresses, then their records.'));
  }
  page.append(h('div', { class: 'tabs' }, GROUPS.map(([g, label]) => h('a', { href: link('sources', { ...f, ...drill, group: g }), class: g === group ? 'active' : null }, label))));
  const groupLabel = (GROUPS.find(([g]) => g === group) || [])[1];
  const cols = [
    { key: 'key', label: groupLabel, sort: (r) => r.key ?? '' , render: (r) => orUnknown(r.key) },
    { key: 'ips', label: 'IPs', num: true },
    { key: 'messages', label: 'Messages', num: true },
    rateColumn,
    { key: 'spf_aligned', label: 'SPF aligned', num: true, sort: (r) => r.spf_aligned / (r.messages || 1), render: (r) => pct(r.spf_aligned, r.messages) },
    { key: 'dkim_aligned', label: 'DKIM aligned', num: true, sort: (r) => r.dkim_aligned / (r.messages || 1), render: (r) => pct(r.dkim_aligned, r.messages) },
  ];
  if (group === 'ip') cols.splice(1, 1, { key: 'reverse_dns', label: 'PTR' }, { key: 'name', label: 'Service' }, { key: 'country', label: 'Country', render: (r) => countryOf(r.key, r.country) });
  if (group === 'asn') cols.splice(1, 0, { key: 'as_name', label: 'AS name' });
  if (group === 'service') cols.splice(1, 0, { key: 'type', label: 'Type' });
  let firstRows = null;
  const loadSources = list('sources', { ...f, ...drill, group }, { fields: SOURCE_FIELDS });
  const sources = await listTable({
    name: 'sources',
    noun: SOURCE_NOUNS[group],
    columns: cols,
    load: async (p) => { const d = await loadSources(p); firstRows ??= d.rows; return d; },
    csvName: `sources-${group}.csv`,
    empty: 'No sources in this range.',
    onRow: embedded ? null : (r) => {
      location.hash = group === 'ip'
        ? link('records', { ...f, source_group: 'ip', source_value: r.key ?? '' })
        : link('sources', { ...f, group: 'ip', source_group: group, source_value: r.key ?? '' });
    },
  });
  if (group === 'ip') page.append(emptyColumnsNote(ui, firstRows, ['reverse_dns', 'name']) || '');
  page.append(sources);
  return page;
}

async function recordsPage(f, params) {
  const drill = { source_group: params.source_group, source_value: params.source_value ?? '', header_from: params.header_from };
  const what = drill.source_group ? `${drill.source_group} ${orUnknown(drill.source_value)}` : (drill.header_from || 'all sources');
  let firstRows = null;
  const loadRecords = list('records', { ...f, ...drill }, { fields: RECORD_FIELDS });
  const records = await listTable({ name: 'records', noun: 'records', columns: recordColumns(true), sortKey: 'count',
    load: async (p) => { const d = await loadRecords(p); firstRows ??= d.rows; return d; }, csvName: 'records.csv' });
  return h('div', {}, h('h1', {}, 'Records'),
    h('div', { class: 'crumbs' }, h('a', { href: link('sources', { ...f, group: 'service' }) }, 'Sources'), ` › ${what}`),
    h('p', { class: 'note' }, 'The report rows, largest first, with every DKIM and SPF result.'),
    emptyColumnsNote(ui, firstRows, ['reverse_dns']) || '',
    records);
}

async function domainsPage(f) {
  return h('div', {}, h('h1', {}, 'Domains'),
    h('h2', {}, 'Header-From domains'),
    await listTable({ name: 'header-from', noun: 'header-from domains', csvName: 'header-from-domains.csv',
      load: list('domains', f, { rows: 'header_from', total: 'header_from_total', fields: ['header_from', 'policy_domain'] }),
      columns: [
      { key: 'header_from', label: 'Header from', render: (r) => (embedded ? orUnknown(r.header_from) : h('a', { href: link('records', { ...f, header_from: r.header_from }) }, orUnknown(r.header_from))) },
      { key: 'policy_domain', label: 'Policy domain' },
      { key: 'messages', label: 'Messages', num: true },
      rateColumn,
      { key: 'spf_aligned', label: 'SPF aligned', num: true, render: (r) => pct(r.spf_aligned, r.messages) },
      { key: 'dkim_aligned', label: 'DKIM aligned', num: true, render: (r) => pct(r.dkim_aligned, r.messages) },
    ] }),
    h('h2', {}, 'Published policy and its history'),
    await listTable({ name: 'policies', noun: 'policies', sortKey: 'first_seen', sortDir: 1, csvName: 'policies.csv',
      load: list('domains', f, { rows: 'policies', total: 'policies_total', fields: ['domain', 'p'] }),
      columns: [
      { key: 'domain', label: 'Domain' }, { key: 'p', label: 'p' }, { key: 'sp', label: 'sp' }, { key: 'pct', label: 'pct' },
      { key: 'adkim', label: 'adkim' }, { key: 'aspf', label: 'aspf' }, { key: 'np', label: 'np' },
      { key: 'first_seen', label: 'First seen' }, { key: 'last_seen', label: 'Last seen' }, { key: 'reports', label: 'Reports', num: true },
    ] }));
}

async function reportersPage(f) {
  return h('div', {}, h('h1', {}, 'Reporters'), await listTable({ name: 'reporters', noun: 'reporters', csvName: 'reporters.csv',
    load: list('reporters', f), onRow: (r) => { location.hash = link('reports', { ...f, org: r.org_name }); }, columns: [
    { key: 'org_name', label: 'Organisation' }, { key: 'org_email', label: 'Contact' },
    { key: 'reports', label: 'Reports', num: true }, { key: 'messages', label: 'Messages', num: true }, rateColumn,
    { key: 'domains', label: 'Domains', num: true }, { key: 'first_seen', label: 'First' }, { key: 'last_seen', label: 'Last' },
  ] }));
}

async function reportsPage(f, params) {
  const page = h('div', {}, h('h1', {}, params.org ? `Reports from ${params.org}` : 'Reports'));
  page.append(await listTable({ name: 'reports', noun: 'reports', csvName: 'reports.csv',
    load: list('reports', { ...f, org: params.org }),
    onRow: (r) => { location.hash = link('report', { ...f, id: r.id }); },
    columns: [
      { key: 'begin', label: 'Begin' }, { key: 'org_name', label: 'Reporter' }, { key: 'report_id', label: 'Report id' },
      { key: 'domain', label: 'Domain' }, { key: 'p', label: 'Policy' }, { key: 'records', label: 'Rows', num: true },
      { key: 'messages', label: 'Messages', num: true }, rateColumn,
    ] }));
  return page;
}

async function reportPage(f, params) {
  const r = await api('report', { id: params.id });
  const meta = h('dl', { class: 'meta' });
  const add = (k, v) => meta.append(h('dt', {}, k), h('dd', {}, orUnknown(v)));
  add('Reporter', r.org_name); add('Contact', r.org_email); add('Report id', r.report_id);
  add('Period', `${r.begin} – ${r.end} UTC`); add('Policy domain', r.policy_published.domain);
  const p = r.policy_published;
  add('Published policy', `p=${p.p} sp=${p.sp} pct=${p.pct ?? ''} adkim=${p.adkim} aspf=${p.aspf}`);
  add('Generator', r.generator); add('Schema', r.xml_schema); add('Received from', r.origin);
  add('Imported', r.imported_at); add('Repairs and errors', r.errors.length ? r.errors.join('; ') : 'none');
  return h('div', {}, h('h1', {}, 'Report'), meta,
    h('h2', {}, `Rows (${r.records.length})`),
    await listTable({ name: 'report-records', noun: 'rows', columns: recordColumns(false), csvName: `report-${r.id}-rows.csv`,
      load: localList(async () => ({ rows: r.records, total: r.records.length }), RECORD_FIELDS) }),
    h('h2', {}, 'Raw XML'), await rawXml(r));
}

// The XML a report was parsed from, as text (never markup), cut after RAW_SHOWN characters, with
// a link that downloads all of it. Larger than RAW_FETCHED bytes: only the link.
const RAW_SHOWN = 200000;
const RAW_FETCHED = 8 * 1024 * 1024;
async function rawXml(r) {
  if (!r.raw_xml) return stateBox('No raw XML is stored for this report (imported before the store kept it).');
  const url = `/api/report/raw?id=${encodeURIComponent(r.id)}`;
  const box = h('div', { class: 'raw-xml' }, h('p', { class: 'note' },
    `${fmtInt(r.raw_xml.size)} bytes (${fmtInt(r.raw_xml.stored_bytes)} stored compressed). `,
    embedded ? 'Not part of the saved report.' : h('a', { href: url, download: `report-${r.id}.xml` }, 'Download the XML')));
  if (embedded) return box;
  if (r.raw_xml.size > RAW_FETCHED) {
    box.append(stateBox('Too large to show here; download it.'));
    return box;
  }
  const res = await fetch(url, { credentials: 'same-origin' });
  if (!res.ok) {
    box.append(stateBox(`Cannot load the XML (HTTP ${res.status}).`, 'error'));
    return box;
  }
  const text = await res.text();
  const pre = h('pre', { class: 'raw-xml-text' });
  pre.textContent = text.length > RAW_SHOWN ? text.slice(0, RAW_SHOWN) : text;
  box.append(pre);
  if (text.length > RAW_SHOWN) box.append(h('p', { class: 'note' }, `Shown: the first ${fmtInt(RAW_SHOWN)} of ${fmtInt(text.length)} characters.`));
  return box;
}

async function smtpTlsPage(f) {
  const d = await api('smtp-tls', f);
  const page = h('div', {}, h('h1', {}, 'SMTP TLS'));
  if (!d.daily.length) {
    page.append(stateBox('No SMTP TLS reports in this range.'));
    return page;
  }
  const sessions = everyDay(d.daily, ['successful', 'failed']);
  page.append(h('h2', {}, 'Sessions per day'), chart({
    legend: { top: 4, data: ['successful', 'failed'] },
    grid: { left: 60, right: 20, top: 40, bottom: 40 },
    xAxis: { type: 'category', data: sessions.map((x) => x.day) }, yAxis: { type: 'value' },
    series: [
      { name: 'successful', type: 'bar', stack: 's', color: '#1a7f37', data: sessions.map((x) => x.successful) },
      { name: 'failed', type: 'bar', stack: 's', color: '#cf222e', data: sessions.map((x) => x.failed) },
    ],
  }));
  const types = [...new Set(d.failure_types.map((x) => x.result_type))];
  const days = everyDay([...new Set(d.failure_types.map((x) => x.day))].map((day) => ({ day })), []).map((x) => x.day);
  if (types.length) {
    page.append(h('h2', {}, 'Failure types over time'), chart({
      legend: { top: 4, type: 'scroll', data: types },
      grid: { left: 60, right: 20, top: 40, bottom: 40 },
      xAxis: { type: 'category', data: days }, yAxis: { type: 'value' },
      series: types.map((t) => ({ name: t, type: 'line', data: days.map((day) => (d.failure_types.find((x) => x.day === day && x.result_type === t) || { failed: 0 }).failed) })),
    }));
  }
  page.append(h('h2', {}, 'Per policy and MX'), await listTable({ name: 'smtp-tls-policies', noun: 'policies', csvName: 'smtp-tls-policies.csv',
    load: list('smtp-tls', f, { rows: 'policies', total: 'policies_total' }), columns: [
    { key: 'policy_domain', label: 'Policy domain' }, { key: 'policy_type', label: 'Type' }, { key: 'mx_host_patterns', label: 'MX patterns' },
    { key: 'successful', label: 'Successful', num: true }, { key: 'failed', label: 'Failed', num: true },
    { key: 'reports', label: 'Reports', num: true }, { key: 'reporters', label: 'Reporters' },
  ] }));
  return page;
}

async function rejectedPage(f) {
  return h('div', {}, h('h1', {}, 'Rejected inputs'),
    h('p', { class: 'note' }, 'Inputs that could not be read, and why. Each keeps its first bytes, to download and inspect.'),
    await listTable({ name: 'rejected', noun: 'rejected inputs', csvName: 'rejected-inputs.csv',
      empty: 'No rejected inputs in this range: everything that arrived could be read.',
      load: list('rejected', { from: f.from, to: f.to }), columns: [
      { key: 'received_at', label: 'Received' }, { key: 'origin', label: 'Input' }, { key: 'reason', label: 'Reason' },
      { key: 'size', label: 'Bytes', num: true },
      { key: 'download', label: 'Download', sort: (r) => r.id, render: (r) => h('a', { href: `/api/rejected/raw?id=${encodeURIComponent(r.id)}`, download: `rejected-${r.id}.bin` }, `first ${fmtInt(r.stored_bytes)} bytes`) },
    ] }));
}

// What the pages in modules of their own use of this one.
const ui = { h, api, table, listTable, list, stateBox, link, fmtInt, orUnknown, embedded, chart };

const RENDER = {
  overview: overviewPage, sources: sourcesPage, records: recordsPage, domains: domainsPage,
  reporters: reportersPage, reports: reportsPage, report: reportPage,
  senders: (f, params) => sendersPage(ui, f, params, render),
  enforcement: (f, params) => enforcementPage(ui, f, params),
  failures: (f) => failuresPage(ui, f), failure: (f, params) => failurePage(ui, f, params),
  'smtp-tls': smtpTlsPage, rejected: rejectedPage, status: () => statusPage(() => api('status'), () => api('outputs')),
};

// ---------------------------------------------------------------------------------------------
// Shell: header, filter bar, page; sign-in when the server asks for it.

function filterBar(page, f, params) {
  if (embedded) {
    const parts = [f.domain ? `domain ${f.domain}` : 'all domains', f.from ? `from ${f.from}` : null, f.to ? `to ${f.to}` : null].filter(Boolean);
    return h('div', { class: 'filters note' }, `Saved report, ${parts.join(', ')}; generated ${embedded.generated}.`);
  }
  const from = h('input', { name: 'from', type: 'date', value: f.from || '' });
  const to = h('input', { name: 'to', type: 'date', value: f.to || '' });
  const failing = h('input', { name: 'failing', type: 'checkbox' });
  failing.checked = f.failing === '1';
  const keep = {};
  for (const k of ['group', 'source_group', 'source_value', 'org', 'id', 'header_from', 'status', 'days']) if (params[k] !== undefined) keep[k] = params[k];
  // A report's or a failure report's page shows that one: choosing a domain goes to the list.
  const listOf = { report: 'reports', failure: 'failures', records: 'records' };
  const domain = domainPicker(ui, f.domain || '', (d) => {
    const target = listOf[page] || page;
    location.hash = link(target, { ...(target === page ? keep : {}), ...f, domain: d });
  });
  const form = h('form', { class: 'filters', onsubmit: (e) => {
    e.preventDefault();
    location.hash = link(page, { ...keep, domain: f.domain, from: from.value, to: to.value, failing: failing.checked ? '1' : '' });
  } },
  domain, h('label', {}, 'First day', from), h('label', {}, 'Last day', to),
  h('label', { class: 'check' }, failing, 'Only failing'),
  h('button', { type: 'submit' }, 'Apply'),
  h('button', { type: 'button', class: 'secondary', onclick: () => { location.hash = link(page, {}); } }, 'Clear'));
  return form;
}

function loginForm(onDone) {
  const user = h('input', { name: 'user', placeholder: 'name', autocomplete: 'username' });
  const password = h('input', { name: 'password', type: 'password', placeholder: 'password', autocomplete: 'current-password' });
  const token = h('input', { name: 'token', type: 'password', placeholder: 'or an access token' });
  const msg = h('p', { class: 'fail', role: 'alert' });
  return h('form', { class: 'login', onsubmit: async (e) => {
    e.preventDefault();
    const res = await fetch('/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: user.value, password: password.value, token: token.value }) });
    if (res.ok) onDone(); else msg.textContent = 'Wrong name, password or token.';
  } }, h('h1', {}, 'Sign in to dmarc-report'), user, password, token, h('button', { type: 'submit' }, 'Sign in'), msg);
}

let renderId = 0;
async function render() {
  const id = ++renderId;
  const { page, params } = route();
  const f = filtersOf(params);
  charts.splice(0).forEach((c) => c.dispose());
  const app = document.getElementById('app');
  const nav = h('nav', {}, PAGES.map(([p, label]) => h('a', { href: link(p, f), class: p === page || (page === 'report' && p === 'reports') || (page === 'records' && p === 'sources') || (page === 'failure' && p === 'failures') ? 'active' : null }, label)));
  const main = h('main', {}, stateBox('Loading…'));
  const signOut = embedded ? null : signOutButton(ui, () => { resetEnrichment(); render(); });
  const badge = embedded ? null : outputsBadge(ui);
  app.replaceChildren(h('header', { class: 'top' }, h('span', { class: 'brand' }, 'dmarc-report'), nav, badge, signOut), filterBar(page, f, params), main);
  const fn = RENDER[page];
  if (!fn || (embedded && !PAGES.some(([p]) => p === page))) {
    main.replaceChildren(stateBox('There is no such page.', 'error'));
    return;
  }
  try {
    const node = await fn(f, params);
    if (id === renderId) main.replaceChildren(node);
  } catch (err) {
    if (id !== renderId) return;
    if (err instanceof ApiError && err.status === 401) {
      main.replaceChildren(loginForm(() => { resetEnrichment(); render(); }));
    } else {
      main.replaceChildren(stateBox(`Could not load this page: ${err.message}`, 'error'));
    }
  }
  if (id === renderId) document.body.dataset.ready = page;
  // While run or fetch imports, the page is drawn again as reports arrive (status.js).
  if (id === renderId && !embedded) watchIngest(() => api('status'), render);
}

window.addEventListener('hashchange', render);
render();
