// The Enforcement page (docs/senders.md, "Enforcement advisor"): for one policy domain, what it
// publishes, how ready it is for an enforcing policy (approved senders' mail passing DMARC), the
// recommended next step with its evidence, what p=quarantine or p=reject would have done to the
// period's mail (GET /api/advise), what a proposed record (the next step, or one typed in: p, sp,
// np, t) would quarantine and reject, and what to fix first. The period ends at the filter bar's
// last day (or now) and spans the days chosen here; a saved HTML report holds the 30 days to its
// last day. Every name and text comes from strangers'
// reports or is built from them: text only (ui.h sets textContent).

const PERIODS = [7, 30, 90, 365];

const percent = (v) => (v === null || v === undefined ? '–' : `${Number(v).toFixed(1)} %`);

function policyText(p) {
  if (!p) return 'No report of this domain before the end of the period.';
  const parts = [`p=${p.p}`];
  if (p.sp) parts.push(`sp=${p.sp}`);
  if (p.np) parts.push(`np=${p.np}`);
  if (p.pct) parts.push(`pct=${p.pct}`);
  parts.push(`adkim=${p.adkim || 'r'}`, `aspf=${p.aspf || 'r'}`);
  return `${parts.join('; ')} (as reported by ${p.reported_by})`;
}

// The senders an enforcing policy would hit, with the causes of their failing mail (and, for
// forwarded mail, why it counts as forwarded: the rows' `reasons`, shown as text).
function blockedTable(ui, rows, noun, withReasons = false) {
  if (!rows.length) return ui.h('p', { class: 'note' }, `None: no ${noun} would be blocked.`);
  const titles = ['Sender', 'Status', 'Messages', ...(withReasons ? ['Why forwarded'] : []), 'Why they fail', 'What to do'];
  const head = ui.h('tr', {}, titles.map((t) => ui.h('th', {}, t)));
  const reasons = (r) => (withReasons ? [ui.h('td', { 'data-reasons': (r.reasons || []).map((x) => x.reason).join(' ') },
    (r.reasons || []).map((x) => ui.h('div', {}, `${x.text} (${ui.fmtInt(x.messages)})`)))] : []);
  const body = ui.h('tbody', {}, rows.map((r) => ui.h('tr', {},
    ui.h('td', {}, r.sender), ui.h('td', {}, r.status), ui.h('td', { class: 'num' }, ui.fmtInt(r.messages)),
    ...reasons(r),
    ui.h('td', {}, r.causes.map((c) => ui.h('div', {}, `${c.cause} (${ui.fmtInt(c.messages)})`))),
    ui.h('td', {}, r.causes.map((c) => ui.h('div', {}, c.remedy))))));
  return ui.h('div', { class: 'table-wrap' }, ui.h('table', {}, ui.h('thead', {}, head), body));
}

// The period's failure reports: how many the receiver (arc=pass) or the source (a known
// forwarder) shows as forwarded. Old answers without the field show nothing.
function failureCard(ui, fr) {
  if (!fr) return null;
  return ui.h('div', { class: 'card', 'data-card': 'failure-reports' }, ui.h('div', { class: 'label' }, 'Failure reports'),
    ui.h('div', { class: 'value' }, ui.fmtInt(fr.reports)),
    ui.h('div', { class: 'note' }, `${ui.fmtInt(fr.forwarded)} forwarded, ${ui.fmtInt(fr.mailing_list)} from mailing lists, ${ui.fmtInt(fr.arc_headers)} with ARC headers (unverified)`));
}

// The record simulated and what it does to each group of failing mail (docs/senders.md, "The
// simulation"): quarantined, rejected, the rest delivered. Old answers without it show nothing.
function effectTable(ui, sim) {
  if (!sim.effect) return null;
  const groups = [['approved', 'Approved senders\' mail', sim.approved_blocked],
    ['forwarded', 'Forwarded mail', sim.forwarded_hit], ['spoofing', 'Spoofing and unapproved senders', sim.spoofing_blocked]];
  const head = ui.h('tr', {}, ['Failing DMARC', 'Messages', 'Quarantined', 'Rejected', 'Delivered'].map((t) => ui.h('th', {}, t)));
  const body = ui.h('tbody', {}, groups.map(([key, label, total]) => {
    const e = sim.effect[key];
    return ui.h('tr', { 'data-effect': key, 'data-values': `${e.quarantined}/${e.rejected}` },
      ui.h('td', {}, label), ui.h('td', { class: 'num' }, ui.fmtInt(total)),
      ui.h('td', { class: 'num' }, ui.fmtInt(e.quarantined)), ui.h('td', { class: 'num' }, ui.fmtInt(e.rejected)),
      ui.h('td', { class: 'num' }, ui.fmtInt(total - e.quarantined - e.rejected)));
  }));
  return ui.h('div', { class: 'table-wrap' }, ui.h('table', {}, ui.h('thead', {}, head), body));
}

// Another record to simulate: the tags p, sp, np and t, as in DNS.
function simulateForm(ui, f, params, sim, error) {
  const input = ui.h('input', { type: 'text', name: 'simulate', size: 40, maxlength: 1024,
    'aria-label': 'DMARC record to simulate', value: params.simulate || sim.proposed.record });
  const form = ui.h('form', { class: 'filters', 'data-form': 'simulate', onsubmit: (e) => {
    e.preventDefault();
    location.hash = ui.link('enforcement', { ...f, days: params.days, simulate: input.value.trim() });
  } }, ui.h('label', {}, 'Simulate the record ', input), ui.h('button', { type: 'submit' }, 'Simulate'));
  if (error) form.append(ui.h('div', { class: 'state error', role: 'alert' }, error));
  return form;
}

function periodPicker(ui, f, params) {
  const select = ui.h('select', { name: 'days', 'aria-label': 'Period',
    onchange: () => { location.hash = ui.link('enforcement', { ...f, days: select.value, simulate: params.simulate }); } },
  ...PERIODS.map((d) => ui.h('option', { value: String(d) }, `last ${d} days`)));
  select.value = String(params.days || 30);
  return ui.h('label', {}, 'Period ', select);
}

export async function enforcementPage(ui, f, params) {
  const title = ui.h('h1', {}, 'Enforcement');
  if (!f.domain) {
    return ui.h('div', {}, title, ui.stateBox('Choose a domain above: the advisor looks at one policy domain.'));
  }
  const query = { domain: f.domain, days: params.days || 30, until: f.to };
  let a;
  let simError = null;
  try {
    a = await ui.api('advise', { ...query, simulate: params.simulate });
  } catch (e) {
    // A record the API refuses: say why beside the form, and show the next step's simulation.
    if (!params.simulate || e.status !== 400) throw e;
    simError = e.message;
    a = await ui.api('advise', query);
  }
  const sim = a.simulation;
  const rec = a.recommendation;
  // A saved report holds the advice of one period: no picker.
  const page = ui.h('div', { 'data-rule': rec.rule }, title, ui.embedded
    ? ui.h('p', { class: 'note' }, `The ${a.days} days to ${new Date(a.now * 1000).toISOString().slice(0, 10)}.`)
    : periodPicker(ui, f, params));
  page.append(ui.h('p', {}, ui.h('strong', {}, 'Published: '), policyText(a.policy)));
  const ready = a.readiness;
  page.append(ui.h('div', { class: 'cards' },
    ui.h('div', { class: 'card', 'data-card': 'readiness' }, ui.h('div', { class: 'label' }, 'Readiness'),
      ui.h('div', { class: 'value' }, percent(ready.percent)),
      ui.h('div', { class: 'note' }, ready.approved_messages
        ? `${ui.fmtInt(ready.approved_pass)} of ${ui.fmtInt(ready.approved_messages)} messages of approved senders passed DMARC`
        : 'no approved sender sent mail in the period')),
    ui.h('div', { class: 'card', 'data-card': 'messages' }, ui.h('div', { class: 'label' }, 'Messages'),
      ui.h('div', { class: 'value' }, ui.fmtInt(a.messages)),
      ui.h('div', { class: 'note' }, `${ui.fmtInt(a.dmarc_pass)} passed, ${ui.fmtInt(a.forwarded)} forwarded, ${ui.fmtInt(a.failing)} failing`)),
    failureCard(ui, a.failure_reports)));
  const next = ui.h('div', { class: 'state recommendation', role: 'status' },
    ui.h('strong', {}, `Next step: ${rec.action}`), ui.h('div', {}, rec.evidence));
  if (rec.rule === 'approve_senders' && !ui.embedded) {
    next.append(ui.h('div', {}, ui.h('a', { href: ui.link('senders', { domain: f.domain }) }, 'Approve them on the Senders page')));
  }
  page.append(next);
  page.append(ui.h('h2', {}, 'With p=quarantine or p=reject (pct=100)'));
  if (sim.note) page.append(ui.h('p', { class: 'note' }, sim.note));
  page.append(ui.chart({
    grid: { left: 170, right: 30, top: 10, bottom: 30 },
    xAxis: { type: 'value' },
    yAxis: { type: 'category', data: ['spoofing stopped', 'forwarded mail hit', 'approved mail blocked'] },
    series: [{ type: 'bar', data: [
      { value: sim.spoofing_blocked, itemStyle: { color: '#1a7f37' } },
      { value: sim.forwarded_hit, itemStyle: { color: '#9a6700' } },
      { value: sim.approved_blocked, itemStyle: { color: '#cf222e' } }] }],
  }, 160));
  const counts = ui.h('p', { 'data-simulation': `${sim.approved_blocked}/${sim.forwarded_hit}/${sim.spoofing_blocked}` },
    `${ui.fmtInt(sim.approved_blocked)} messages of approved senders would be blocked, ${ui.fmtInt(sim.forwarded_hit)} forwarded messages hit, ${ui.fmtInt(sim.spoofing_blocked)} messages of unapproved or unknown senders stopped.`);
  page.append(counts);
  if (sim.proposed) {
    page.append(ui.h('h3', { 'data-proposed': sim.proposed.record }, `With ${sim.proposed.record}`));
    if (!ui.embedded) page.append(simulateForm(ui, f, params, sim, simError));
    page.append(effectTable(ui, sim));
  }
  page.append(ui.h('h3', {}, 'Approved senders that would be blocked'), blockedTable(ui, sim.approved, 'approved sender'));
  page.append(ui.h('h3', {}, 'Forwarded mail that would be hit'), blockedTable(ui, sim.forwarded, 'forwarded mail', true));
  page.append(ui.h('h3', {}, 'Spoofing and unapproved senders that would be stopped'), blockedTable(ui, sim.unapproved, 'unapproved sender'));
  page.append(ui.h('h2', {}, 'What to fix first'));
  page.append(a.fixes.length
    ? ui.h('ol', { 'data-list': 'fixes' }, a.fixes.map((x) => ui.h('li', {}, x.text)))
    : ui.h('p', { class: 'note', 'data-list': 'fixes' }, 'Nothing: no approved sender fails DMARC in the period (approve your senders on the Senders page for this list to speak of them).'));
  return page;
}
