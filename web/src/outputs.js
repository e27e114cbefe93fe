import { OUTPUTS_EVENT, outputError } from './status.js';

// The red badge in the header while an output is failing: GET /api/outputs (docs/outputs.md)
// lists each output of the store's outbox; those whose last delivery attempts failed are named
// in the badge's title with their last error, and the badge links to the status page. Hidden
// when every output delivers (or there are none, or the API cannot tell). Read when the page is
// drawn, then again every OUTPUTS_POLL_MS while the badge is on the page, so a dashboard left
// open learns of an output that fails (or recovers) without a reload; the status page's output
// cards follow the same answers.

export const OUTPUTS_POLL_MS = 60000;

function show(badge, o) {
  const failing = (o.outputs || []).filter((x) => x.failing);
  badge.dataset.failing = String(failing.length);  // for the browser tests
  if (!failing.length) {
    badge.hidden = true;
    badge.textContent = '';
    badge.removeAttribute('title');
    return;
  }
  badge.textContent = failing.length === 1
    ? `Output ${failing[0].name} failing`
    : `${failing.length} outputs failing`;
  badge.title = failing
    .map((x) => `${x.name}: ${x.backlog} waiting; ${outputError(x) || 'no error recorded'}`)
    .join('\n');
  badge.hidden = false;
}

export function outputsBadge(ui) {
  const badge = ui.h('a', { class: 'outputs-badge', href: '#/status', hidden: true, role: 'alert' });
  const read = () => ui.api('outputs')
    .then((o) => {
      show(badge, o);
      document.dispatchEvent(new CustomEvent(OUTPUTS_EVENT, { detail: o }));
    })
    .catch(() => { badge.dataset.failing = 'unknown'; });
  read();
  // Page redraws replace the header: a badge no longer on the page stops asking.
  const timer = setInterval(() => {
    if (!badge.isConnected) {
      clearInterval(timer);
      return;
    }
    read();
  }, OUTPUTS_POLL_MS);
  return badge;
}
