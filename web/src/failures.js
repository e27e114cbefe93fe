// The Failure-reports pages: a readable list (arrival, From, subject, SPF/DKIM/DMARC results,
// delivery result, source) and one report's details, whose message sample is asked for only
// when that report is opened (GET /api/failure), and only shown when the server allows it.
// Every value comes from strangers: text only (ui.h sets textContent).

function result(ui, value) {
  if (value === null || value === undefined) return ui.h('span', { class: 'muted' }, '–');
  return ui.h('span', { class: value === 'pass' ? 'pass' : 'fail' }, String(value));
}

function fromText(r) {
  if (r.from) return r.from_name ? `${r.from_name} <${r.from}>` : String(r.from);
  return r.envelope_from ? String(r.envelope_from) : null;
}

function sourceText(r) {
  const parts = [r.source_ip, r.source_reverse_dns, r.source_country].filter((x) => x);
  return parts.length ? parts.join(' · ') : null;
}

// Whether the message was forwarded: the receiver's arc=pass or a known forwarder as source.
function forwardingText(r) {
  const f = r.forwarding;
  if (!f || !f.kind) return null;
  return `${f.kind === 'mailing_list' ? 'mailing list' : 'forwarded'}: ${f.detail}`;
}

function samplesNote(ui, shown) {
  return ui.h('p', { class: 'note' }, shown
    ? 'Open a report to see the reported message (headers and body).'
    : 'The reported messages are hidden: they may hold personal data (serve --show-failure-samples, [web] show_failure_samples, shows them).');
}

export async function failuresPage(ui, f) {
  let shown = false;
  const load = ui.list('failures', f, { fields: ['reported_domain', 'source_ip', 'feedback_type', 'origin', 'from', 'subject'] });
  const failures = await ui.listTable({
    name: 'failures',
    noun: 'failure reports',
    csvName: 'failure-reports.csv',
    empty: 'No failure reports in this range.',
    load: async (p) => { const d = await load(p); shown = d.samples_shown; return d; },
    columns: [
      { key: 'arrival', label: 'Arrival (UTC)' },
      { key: 'from', label: 'From', sort: fromText, render: (r) => ui.orUnknown(fromText(r)) },
      { key: 'subject', label: 'Subject' },
      { key: 'spf', label: 'SPF', sort: (r) => r.results.spf, render: (r) => result(ui, r.results.spf) },
      { key: 'dkim', label: 'DKIM', sort: (r) => r.results.dkim, render: (r) => result(ui, r.results.dkim) },
      { key: 'dmarc', label: 'DMARC', sort: (r) => r.results.dmarc, render: (r) => result(ui, r.results.dmarc) },
      { key: 'delivery_result', label: 'Delivery' },
      { key: 'forwarding', label: 'Forwarded', sort: forwardingText, render: (r) => forwardingText(r) ?? '' },
      { key: 'source_ip', label: 'Source', sort: sourceText, render: (r) => ui.orUnknown(sourceText(r)) },
      { key: 'reported_domain', label: 'Domain' },
    ],
    onRow: (r) => { location.hash = ui.link('failure', { ...f, id: r.id }); },
  });
  return ui.h('div', {}, ui.h('h1', {}, 'Failure reports'), samplesNote(ui, shown), failures);
}

const SAMPLE_SHOWN = 200000;

export async function failurePage(ui, f, params) {
  const r = await ui.api('failure', { id: params.id });
  const meta = ui.h('dl', { class: 'meta' });
  const add = (k, v) => meta.append(ui.h('dt', {}, k), ui.h('dd', {}, v instanceof Node ? v : ui.orUnknown(v)));
  add('Arrival', `${r.arrival} UTC`);
  add('From', fromText(r));
  add('Envelope from', r.envelope_from);
  add('Subject', r.subject);
  add('Results', ui.h('span', {}, 'SPF ', result(ui, r.results.spf), ', DKIM ', result(ui, r.results.dkim),
    ', DMARC ', result(ui, r.results.dmarc)));
  add('Authentication-Results', r.data.authentication_results);
  add('Delivery result', r.delivery_result);
  add('Forwarded', forwardingText(r) ?? 'no sign of it from the receiver or the source');
  if (r.forwarding && r.forwarding.evidence && r.forwarding.evidence.length) {
    add('In the message (unverified)', r.forwarding.evidence.join('; '));
  }
  add('Source', sourceText(r));
  add('Reported domain', r.reported_domain);
  add('Recipient', r.data.original_rcpt_to);
  add('Feedback type', r.feedback_type);
  add('Reporter software', r.data.user_agent);
  add('Received from', r.origin);
  const page = ui.h('div', {}, ui.h('h1', {}, 'Failure report'),
    ui.h('div', { class: 'crumbs' }, ui.h('a', { href: ui.link('failures', f) }, 'Failure reports'), ` › ${r.id}`),
    meta, ui.h('h2', {}, 'Reported message'));
  if (!r.samples_shown) {
    page.append(ui.stateBox(r.has_sample
      ? 'The reported message is hidden: it may hold personal data (serve --show-failure-samples shows it).'
      : 'The report carries no copy of the message.'));
  } else if (!r.sample) {
    page.append(ui.stateBox('The report carries no copy of the message.'));
  } else {
    const text = String(r.sample);
    const pre = ui.h('pre', { class: 'failure-sample' });
    pre.textContent = text.length > SAMPLE_SHOWN ? text.slice(0, SAMPLE_SHOWN) : text;
    page.append(pre);
    if (text.length > SAMPLE_SHOWN) page.append(ui.h('p', { class: 'note' }, `Shown: the first ${ui.fmtInt(SAMPLE_SHOWN)} of ${ui.fmtInt(text.length)} characters.`));
  }
  const whole = ui.h('pre', { class: 'failure-data' });
  whole.textContent = JSON.stringify(r.data, null, 1);
  page.append(ui.h('h2', {}, 'The whole report'), whole);
  return page;
}
