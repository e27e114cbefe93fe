import { outputError } from './status.js';

// The red badge in the header while an output is failing: GET /api/outputs (docs/outputs.md)
// lists each output of the store's outbox; those whose last delivery attempts failed are named
// in the badge's title with their last error, and the badge links to the status page. Hidden
// when every output delivers (or there are none, or the API cannot tell).

export function outputsBadge(ui) {
  const badge = ui.h('a', { class: 'outputs-badge', href: '#/status', hidden: true, role: 'alert' });
  ui.api('outputs')
    .then((o) => {
      const failing = (o.outputs || []).filter((x) => x.failing);
      badge.dataset.failing = String(failing.length);  // for the browser tests
      if (!failing.length) return;
      badge.textContent = failing.length === 1
        ? `Output ${failing[0].name} failing`
        : `${failing.length} outputs failing`;
      badge.title = failing
        .map((x) => `${x.name}: ${x.backlog} waiting; ${outputError(x) || 'no error recorded'}`)
        .join('\n');
      badge.hidden = false;
    })
    .catch(() => { badge.dataset.failing = 'unknown'; });
  return badge;
}
