// The Senders page (docs/senders.md): the inventory of one policy domain — who sends as it, how
// much, how well aligned — with each sender's status and the suggested one, a status filter,
// and buttons that approve, ignore (unapproved), mark as a forwarder or reset a sender (POST
// /api/senders/status, which needs sign-in as an editor: GET /api/session says whether this
// browser may, and without the buttons are left out). Every value comes from strangers' reports:
// text only (ui.h sets textContent).

const STATUSES = ['approved', 'unapproved', 'forwarder', 'unknown'];

const percent = (rate) => `${(100 * rate).toFixed(1)} %`;
const day = (ts) => new Date(ts * 1000).toISOString().slice(0, 10);

// The change of a sender's status; the answer's error when refused.
async function setStatus(domain, sender, status) {
  const res = await fetch('/api/senders/status', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'dmarc-report' },
    body: JSON.stringify({ domain, sender, status }),
  });
  if (res.ok) return null;
  try { return (await res.json()).error || `HTTP ${res.status}`; } catch { return `HTTP ${res.status}`; }
}

function trend(ui, r) {
  const now = r.messages_last_30d;
  const before = r.messages_prior_30d;
  const arrow = now > before ? '↑' : now < before ? '↓' : '→';
  return ui.h('span', { title: `last 30 days ${now}, the 30 before ${before}` }, `${arrow} ${ui.fmtInt(now)}`);
}

// Whether this browser may change statuses, and why not (GET /api/session).
async function editRights() {
  try {
    const res = await fetch('/api/session', { credentials: 'same-origin' });
    const s = await res.json();
    if (s.can_edit) return { canEdit: true };
    if (!s.auth_required) return { canEdit: false, why: 'Statuses are changed with `dmarc-report senders approve|reject|forwarder|reset`: this dashboard has no sign-in.' };
    return { canEdit: false, why: `Read only: ${s.user || 'this sign-in'} is not one of the editors who may change statuses.` };
  } catch {
    return { canEdit: false, why: 'Read only: the server could not say who you are.' };
  }
}

function statusCell(ui, f, r, rerender, msg, canEdit) {
  const button = (label, status) => ui.h('button', { type: 'button', class: 'secondary', 'data-status': status,
    onclick: async (e) => {
      e.stopPropagation();
      const err = await setStatus(f.domain, r.sender, status);
      if (err) msg.textContent = `${r.sender}: ${err}`; else rerender();
    } }, label);
  const suggested = r.status === 'unknown' && r.suggested_status !== 'unknown'
    ? ui.h('span', { class: 'note' }, ` suggested: ${r.suggested_status}`) : null;
  const label = ui.h('span', { class: r.status === 'approved' ? 'pass' : r.status === 'unapproved' ? 'fail' : '' }, r.status);
  if (!canEdit) return ui.h('span', { class: 'sender-status' }, label, suggested);
  return ui.h('span', { class: 'sender-status' }, label, suggested, ' ',
    r.status !== 'approved' ? button('Approve', 'approved') : null,
    r.status !== 'unapproved' ? button('Ignore', 'unapproved') : null,
    r.status !== 'forwarder' ? button('Forwarder', 'forwarder') : null,
    r.status !== 'unknown' ? button('Reset', 'unknown') : null);
}

function statusFilter(ui, f, params) {
  const select = ui.h('select', { name: 'status', 'aria-label': 'Status',
    onchange: () => { location.hash = ui.link('senders', { ...f, status: select.value }); } },
  ui.h('option', { value: '' }, 'All statuses'), ...STATUSES.map((s) => ui.h('option', { value: s }, s)));
  select.value = params.status || '';
  return ui.h('label', {}, 'Status ', select);
}

// The sender's key, and the known forwarder most of its mail came from (the bundled or the
// configured list), if any.
function senderCell(ui, r) {
  if (!r.known_forwarder) return String(r.sender);
  return ui.h('span', {}, String(r.sender), ui.h('span', { class: 'note', 'data-known-forwarder': r.known_forwarder },
    ` known forwarder: ${r.known_forwarder} (${ui.fmtInt(r.forwarder_messages)} of ${ui.fmtInt(r.messages)} messages)`));
}

export async function sendersPage(ui, f, params, rerender) {
  if (!f.domain) {
    return ui.h('div', {}, ui.h('h1', {}, 'Senders'), ui.stateBox('Choose a domain above: the inventory lists the senders of one policy domain.'));
  }
  const msg = ui.h('p', { class: 'fail', role: 'alert' });
  const rights = await editRights();
  const table = await ui.listTable({
    name: 'senders', noun: 'senders', csvName: `senders-${f.domain}.csv`,
    empty: 'No senders with this status for this domain.',
    load: ui.list('senders', { domain: f.domain, status: params.status }, { rows: 'senders', fields: ['sender', 'kind', 'type', 'status'] }),
    columns: [
      { key: 'sender', label: 'Sender', render: (r) => senderCell(ui, r) },
      { key: 'kind', label: 'Known by' },
      { key: 'status', label: 'Status', render: (r) => statusCell(ui, f, r, rerender, msg, rights.canEdit) },
      { key: 'messages', label: 'Messages', num: true },
      { key: 'messages_last_30d', label: 'Trend (30 days)', num: true, render: (r) => trend(ui, r) },
      { key: 'dmarc_pass_rate', label: 'DMARC', num: true, render: (r) => percent(r.dmarc_pass_rate) },
      { key: 'dkim_aligned_rate', label: 'DKIM aligned', num: true, render: (r) => percent(r.dkim_aligned_rate) },
      { key: 'spf_aligned_rate', label: 'SPF aligned', num: true, render: (r) => percent(r.spf_aligned_rate) },
      { key: 'ip_count', label: 'IPs', num: true, render: (r) => `${ui.fmtInt(r.ip_count)}: ${r.ips.join(', ')}` },
      { key: 'dkim_domains', label: 'DKIM d= / s=', sort: (r) => r.dkim_domains.join(' '), render: (r) => `${r.dkim_domains.join(', ')} / ${r.dkim_selectors.join(', ')}` },
      { key: 'spf_domains', label: 'SPF domains', sort: (r) => r.spf_domains.join(' '), render: (r) => r.spf_domains.join(', ') },
      { key: 'first_seen', label: 'First seen', render: (r) => day(r.first_seen) },
      { key: 'last_seen', label: 'Last seen', render: (r) => day(r.last_seen) },
    ],
  });
  return ui.h('div', {}, ui.h('h1', {}, 'Senders'),
    ui.h('p', { class: 'note' }, 'Who sends as this domain. Approve the services that are yours; a sender whose mail passes aligned DKIM for 90 % of its messages is suggested as approved, one that sends mostly from known forwarders and mailing lists as a forwarder. Changing a status needs sign-in as an editor.'),
    rights.canEdit ? null : ui.h('p', { class: 'note', 'data-read-only': 'true' }, rights.why),
    statusFilter(ui, f, params), msg, table);
}
