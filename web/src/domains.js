// The domain picker: the domains the store holds reports for (GET /api/domain-names), asked
// once per page load. Choosing one sets `domain` in the URL, which every view filters by.

let names = null;

function domainNames(ui) {
  if (!names) {
    names = ui.api('domain-names').then((d) => d.domains || [], () => { names = null; return []; });
  }
  return names;
}

// A <select name="domain">: "all domains", then the store's domains (and the current one, if the
// store does not have it). onPick(domain) runs when the choice changes ('' for all).
export function domainPicker(ui, current, onPick) {
  const select = ui.h('select', { name: 'domain', 'aria-label': 'Policy domain' },
    ui.h('option', { value: '' }, 'all domains'));
  const add = (d) => {
    const o = ui.h('option', { value: d }, d);
    select.append(o);
    return o;
  };
  if (current) add(current).selected = true;
  domainNames(ui).then((list) => {
    for (const d of list) if (d !== current) add(d);
    const options = [...select.options].slice(1).sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    select.append(...options);
    select.dataset.loaded = String(list.length);
  });
  select.addEventListener('change', () => onPick(select.value));
  return ui.h('label', {}, 'Domain', select);
}
