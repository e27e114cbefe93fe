// "Why is this column empty?": when the DNS name (PTR), service or country column is empty in
// every row a table shows, a note above it says why, from GET /api/enrichment ({mode: "on" |
// "offline" | "off" | null, pending_addresses}) — names not looked up yet, enrichment offline
// or off, or none to be had — and how to fill them in (`dmarc-report enrich`).

let state = null;

function enrichment(ui) {
  if (!state) state = ui.api('enrichment').catch(() => null);
  return state;
}

// Forget the state (after a sign-in, or when the page is refreshed).
export function resetEnrichment() { state = null; }

const blank = (v) => v === null || v === undefined || v === '';
const FILL = 'Run `dmarc-report enrich` (where DNS answers) to fill them in.';

function dnsReason(e, what) {
  const pending = e ? e.pending_addresses : null;
  if (e && e.mode === 'off') return `No ${what}: enrichment is off ([enrich] enabled = false). ${FILL}`;
  if (e && e.mode === 'offline') return `No ${what} — enrichment is off (offline mode: no DNS lookups). ${FILL}`;
  if (pending > 0) {
    return `No ${what} yet — enrichment pending: ${pending.toLocaleString('en-US')} address${pending === 1 ? '' : 'es'} not looked up in DNS yet. ${e && e.mode === 'on' ? 'They fill in as the answers come; or ' : ''}${FILL}`;
  }
  if (pending === 0) return `No ${what}: these addresses have none (every address was looked up).`;
  return `No ${what} yet — enrichment pending or off. ${FILL}`;
}

const COLUMNS = {
  reverse_dns: (e) => dnsReason(e, 'DNS names (PTR)'),
  name: (e) => dnsReason(e, 'service names (a service is known by its DNS name or its network)'),
  country: (e) => (e && e.mode === 'off'
    ? `No countries: enrichment is off ([enrich] enabled = false). ${FILL}`
    : 'No countries: the country database knows none of these addresses (private and reserved addresses have none).'),
};

// A note for the columns (keys of rows, among reverse_dns, name, country) empty in every row, or
// null. The note fills in once the enrichment state is known.
export function emptyColumnsNote(ui, rows, keys) {
  if (!rows || !rows.length) return null;
  const empty = keys.filter((k) => COLUMNS[k] && rows.every((r) => blank(r[k])));
  if (!empty.length) return null;
  const note = ui.h('div', { class: 'note empty-columns', role: 'note', 'data-empty-columns': empty.join(' ') });
  enrichment(ui).then((e) => {
    note.replaceChildren(...empty.map((k) => ui.h('p', { 'data-column': k }, COLUMNS[k](e))));
  });
  return note;
}
