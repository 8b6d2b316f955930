// fleetmend serve: progressive enhancement only; every page works without it.
// Forms marked data-autosubmit apply a select's change at once (the button stays for keyboards).
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  for (const form of document.querySelectorAll('form[data-autosubmit]')) {
    for (const sel of form.querySelectorAll('select')) sel.addEventListener('change', () => form.requestSubmit());
  }
  document.documentElement.dataset.js = 'on';
});
