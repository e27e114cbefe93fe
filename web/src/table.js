// The dashboard's list tables: a table that says how many rows it shows of how many there are
// ("100 of 3,214 sources"), loads more on demand, has a search box (debounced; the text goes to
// the API, which searches every matching row, not only the loaded ones) and downloads every
// matching row as CSV. Rows come from a loader: the API's pages (apiList), or a list held whole
// (the self-contained HTML report, which has no API, and a report's own rows), paged and
// searched here the way the API does it.
//
// Every value comes from reports written by strangers: cells are filled with text nodes and DOM
// properties only, never parsed as HTML; the CSV guards against formula injection.

export const PAGE_SIZE = 100;
// The API's largest page (docs/api.md): the CSV download asks for pages of this size.
const API_MAX_LIMIT = 1000;
// The most rows a CSV download holds (the note beside the button says when a list has more).
export const CSV_MAX_ROWS = 100000;
// The longest search text the API takes.
const MAX_SEARCH = 100;
const SEARCH_DELAY_MS = 300;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const fmtInt = (n) => Number(n).toLocaleString('en-US');
const asciiLower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

// Whether a row matches a search as the API's `q` does: one of its fields contains the text,
// ASCII letters compared without case, nothing a wildcard.
export function rowMatches(row, fields, q) {
  if (!q) return true;
  const needle = asciiLower(q);
  return fields.some((f) => {
    const v = row[f];
    return v !== null && v !== undefined && typeof v !== 'object' && asciiLower(String(v)).includes(needle);
  });
}

// A loader of one of the API's lists: `rows` and `total` name the answer's keys. local: the API
// answers only the whole list (the HTML report's embedded answers, looked up without paging
// parameters); it is then paged and searched here on `fields`.
export function apiList(api, path, params, { rows = 'rows', total = 'total', local = false, fields = [] } = {}) {
  if (local) {
    return localList(async () => {
      const d = await api(path, params);
      return { rows: d[rows], total: d[total] };
    }, fields);
  }
  return async ({ offset, limit, q }) => {
    const d = await api(path, { ...params, offset, limit, q });
    return { ...d, rows: d[rows], total: d[total] };
  };
}

// A loader of a list held whole: whole() gives {rows, total} once (total: how many the list has,
// which is more than rows when it was cut), searched on fields.
export function localList(whole, fields) {
  let all = null;
  return async ({ offset, limit, q }) => {
    all ??= await whole();
    const matched = q ? all.rows.filter((r) => rowMatches(r, fields, q)) : all.rows;
    const total = q ? matched.length : Math.max(all.total ?? 0, all.rows.length);
    return { rows: matched.slice(offset, offset + limit), total };
  };
}

// ---------------------------------------------------------------------------------------------
// CSV

// A cell's text in the CSV: c.csv(row) when given, the raw number of a plain number column,
// else the text the cell shows (its rendering's text), "" for no value.
function csvValue(c, row) {
  if (c.csv) return c.csv(row);
  if (c.num && !c.render) return row[c.key] ?? '';
  const v = c.render ? c.render(row) : row[c.key];
  if (v === null || v === undefined) return '';
  if (v instanceof Node) return v.textContent;
  return typeof v === 'object' ? JSON.stringify(v) : v;
}

// One CSV field: a text that a spreadsheet would read as a formula (= + - @, a tab or a carriage
// return first) gets a leading apostrophe; quotes are doubled, every field quoted.
export function csvField(v) {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  let s = String(v ?? '');
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvField(c.label)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvField(csvValue(c, r))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

// ---------------------------------------------------------------------------------------------
// The table

function sortRows(columns, rows, sortKey, dir) {
  if (!sortKey) return rows;
  const c = columns.find((x) => x.key === sortKey);
  const value = (r) => (c.sort ? c.sort(r) : r[c.key]);
  return [...rows].sort((a, b) => {
    const va = value(a); const vb = value(b);
    if (va === vb) return 0;
    if (va === null || va === undefined) return 1;
    if (vb === null || vb === undefined) return -1;
    return (typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb))) * dir;
  });
}

function cellOf(c, r) {
  if (c.render) return c.render(r);
  const v = r[c.key];
  if (c.num) return v === null || v === undefined ? '–' : fmtInt(v);
  return v === null || v === undefined || v === '' ? '(unknown)' : String(v);
}

// A list table. cfg:
//   name     the table's data-table name
//   noun     what the rows are, plural ("sources")
//   columns  [{key, label, num, render(row) → Node|string, sort(row) → value, csv(row) → value}]
//   load     ({offset, limit, q}) → Promise<{rows, total}> (apiList, localList)
//   empty    the text when nothing matches without a search
//   onRow    (row) → void, on a click on a row (outside its links)
//   sortKey, sortDir  the initial sort of the loaded rows (clicking a header sorts them)
//   csvName  the CSV file's name
// Resolves once the first page is shown (its error rejects, so a page can ask to sign in).
export async function listTable(cfg) {
  const { name, noun, columns, load, onRow } = cfg;
  const pageSize = cfg.pageSize || PAGE_SIZE;
  let sortKey = cfg.sortKey || null;
  let dir = cfg.sortDir || -1;
  let rows = [];
  let total = 0;
  let q = '';
  let generation = 0;  // answers to an older search are dropped

  const search = el('input', { type: 'search', class: 'list-search', name: `search-${name}`,
    placeholder: `Search ${noun}`, 'aria-label': `Search ${noun}`, maxlength: MAX_SEARCH, autocomplete: 'off' });
  const count = el('span', { class: 'list-count', role: 'status', 'aria-live': 'polite' });
  const csvButton = el('button', { type: 'button', class: 'secondary list-csv' }, 'Download CSV');
  const csvNote = el('span', { class: 'list-note note' });
  const more = el('button', { type: 'button', class: 'secondary list-more' });
  const body = el('div', { class: 'list-body' });
  const root = el('div', { class: 'list', 'data-list': name },
    el('div', { class: 'list-tools' }, search, count, csvButton, csvNote), body, el('div', { class: 'list-foot' }, more));

  const headRow = el('tr');
  const tbody = el('tbody');
  const tbl = el('table', { 'data-table': name }, el('thead', {}, headRow), tbody);
  const wrap = el('div', { class: 'table-wrap' }, tbl);

  function drawRows() {
    headRow.replaceChildren(...columns.map((c) => el('th', {
      class: [c.num ? 'num' : '', sortKey === c.key ? (dir > 0 ? 'sorted-asc' : 'sorted-desc') : ''].join(' ').trim() || null,
      scope: 'col',
      onclick: () => { if (sortKey === c.key) dir = -dir; else { sortKey = c.key; dir = c.num ? -1 : 1; } drawRows(); },
    }, c.label)));
    tbody.replaceChildren(...sortRows(columns, rows, sortKey, dir).map((r) => {
      const tr = el('tr', { class: onRow ? 'clickable' : null });
      if (onRow) tr.addEventListener('click', (e) => { if (!e.target.closest('a')) onRow(r); });
      for (const c of columns) tr.append(el('td', { class: c.num ? 'num' : null }, cellOf(c, r)));
      return tr;
    }));
  }

  function state(text, kind) {
    return el('div', { class: `state${kind ? ` ${kind}` : ''}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  }

  function draw() {
    root.dataset.shown = String(rows.length);
    root.dataset.total = String(total);
    count.textContent = `${fmtInt(rows.length)} of ${fmtInt(total)} ${noun}${q ? ` matching “${q}”` : ''}`;
    if (!rows.length) {
      body.replaceChildren(state(q ? `No ${noun} match “${q}”.` : (cfg.empty || 'Nothing in this range.')));
    } else {
      drawRows();
      if (body.firstChild !== wrap) body.replaceChildren(wrap);
    }
    const left = total - rows.length;
    more.hidden = left <= 0;
    more.textContent = `Load ${fmtInt(Math.min(pageSize, Math.max(left, 0)))} more`;
    csvButton.disabled = total === 0;
    csvNote.textContent = total > CSV_MAX_ROWS ? `The CSV holds the first ${fmtInt(CSV_MAX_ROWS)}.` : '';
  }

  // Loads the next page (or the first, after a new search).
  async function fetchMore(reset) {
    const mine = reset ? ++generation : generation;
    const page = await load({ offset: reset ? 0 : rows.length, limit: pageSize, q });
    if (mine !== generation) return;
    rows = reset ? page.rows : rows.concat(page.rows);
    total = page.total;
    // A list that shrank between two pages: stop where it ends.
    if (!page.rows.length) total = rows.length;
    draw();
  }

  async function guarded(fn) {
    try {
      await fn();
    } catch (err) {
      body.replaceChildren(state(`Could not load the ${noun}: ${err.message}`, 'error'));
    }
  }

  more.addEventListener('click', () => guarded(async () => {
    more.disabled = true;
    try { await fetchMore(false); } finally { more.disabled = false; }
  }));
  let timer = null;
  const searchNow = () => {
    clearTimeout(timer);
    const text = search.value.trim().slice(0, MAX_SEARCH);
    if (text === q) return;
    q = text;
    guarded(() => fetchMore(true));
  };
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(searchNow, SEARCH_DELAY_MS); });
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); searchNow(); } });

  csvButton.addEventListener('click', () => guarded(async () => {
    csvButton.disabled = true;
    const label = csvButton.textContent;
    csvButton.textContent = 'Preparing CSV…';
    try {
      const all = [];
      let want = Math.min(total, CSV_MAX_ROWS);
      while (all.length < want) {
        const page = await load({ offset: all.length, limit: Math.min(API_MAX_LIMIT, want - all.length), q });
        if (!page.rows.length) break;
        all.push(...page.rows);
        want = Math.min(page.total, CSV_MAX_ROWS);
      }
      const text = toCsv(columns, all.slice(0, CSV_MAX_ROWS));
      const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
      const a = el('a', { href: url, download: cfg.csvName || `${name}.csv` });
      root.dataset.csvRows = String(Math.min(all.length, CSV_MAX_ROWS));
      root.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } finally {
      csvButton.textContent = label;
      csvButton.disabled = total === 0;
    }
  }));

  await fetchMore(true);
  return root;
}
