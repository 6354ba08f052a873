// The DOM helpers every page script shares.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** A fresh copy of the first element of the <template> with this id. */
export function fromTemplate(id) {
  return $(id).content.firstElementChild.cloneNode(true);
}
