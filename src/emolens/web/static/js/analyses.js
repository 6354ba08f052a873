// Stored analyses as table rows (the dashboard's recent table and the history page): each row's id button opens
// its stored result, each face left to right, with the photo when image storage kept it (else the thumbnail).

import { apiBlob, pct } from "./common.js";
import { numbered, ranked } from "./results.js";

const blobs = new Map(); // API path -> Promise of an object URL

/** An <img> of a stored image (fetched with the API token, if any), removed when it cannot be loaded. */
function storedImage(path, alt, className) {
  const img = document.createElement("img");
  img.className = className;
  img.alt = alt;
  if (!blobs.has(path)) blobs.set(path, apiBlob(path).then(URL.createObjectURL));
  blobs.get(path).then((url) => { img.src = url; }, () => img.remove());
  return img;
}

function cell(content) {
  const td = document.createElement("td");
  td.append(content);
  return td;
}

/** "<label> ×3, <label> ×1": the two most frequent top emotions, with their counts. */
function top(a) {
  return Object.entries(a.counts).sort((x, y) => y[1] - x[1]).map(([l, n]) => `${l} ×${n}`).slice(0, 2)
    .join(", ") || "–";
}

/** The row's id button, which shows or hides the stored result. */
function opener(a, opened, redraw) {
  const open = document.createElement("button");
  open.type = "button";
  open.className = "small";
  open.textContent = `${a.id}`;
  open.setAttribute("aria-label", `Analysis ${a.id}${a.filename ? ` (${a.filename})` : ""}: show its result`);
  open.setAttribute("aria-expanded", String(opened.has(a.id)));
  open.addEventListener("click", () => {
    if (opened.has(a.id)) opened.delete(a.id); else opened.add(a.id);
    redraw();
    document.querySelector(`tr[data-analysis="${a.id}"] button`)?.focus(); // the redrawn button
  });
  return open;
}

/** Cell makers by column name. */
const COLUMNS = {
  thumb: (a) => (a.has_thumbnail ? storedImage(`/api/v1/analyses/${a.id}/thumbnail`, "", "thumb") : ""),
  id: (a, opened, redraw) => opener(a, opened, redraw),
  time: (a) => new Date(a.created_at).toLocaleString(),
  file: (a) => {
    const name = document.createElement("span");
    name.className = "cut";
    name.textContent = a.filename || (a.source === "webcam" ? "live window" : "–");
    return name;
  },
  source: (a) => a.source,
  session: (a) => a.session || "",
  frames: (a) => String(a.frames),
  faces: (a) => String(a.faces),
  top,
  ms: (a) => a.elapsed_ms.toFixed(1),
};

/** " · class balance 0.5": which prior scored the faces (nothing for analyses stored before it was recorded). */
function balanceNote(a) {
  return a.class_balance == null ? "" : ` · class balance ${a.class_balance}`;
}

/** The stored result of one analysis: each face (left to right) and its photo or thumbnail when kept. */
function detail(a, span) {
  const td = document.createElement("td");
  td.colSpan = span;
  const list = document.createElement("ol");
  list.className = "detail-faces";
  for (const f of a.result ? numbered(a.result) : []) {
    const [first, second] = ranked(f);
    const li = document.createElement("li");
    li.textContent = `${first} ${pct(f.scores[first])}${second ? `, then ${second} ${pct(f.scores[second])}` : ""}`
      + ` · box ${f.box.join(", ")}`;
    list.append(li);
  }
  const note = document.createElement("p");
  const n = a.result ? a.result.length : 0;
  note.textContent = a.result ? `${a.filename ? `${a.filename}: ` : ""}${n ? `${n} face${n === 1 ? "" : "s"}, left to right`
    : "no face found"} · ${a.detector}${a.tta ? " with TTA" : ""}${balanceNote(a)}`
    : `A live window: ${a.frames} frames, ${a.faces} faces summed over them; frames are never stored`
      + `${balanceNote(a)}.`;
  const inner = document.createElement("div");
  inner.className = "inner";
  inner.append(note, list);
  const name = a.filename || `analysis ${a.id}`;
  if (a.has_image) inner.prepend(storedImage(`/api/v1/analyses/${a.id}/image`, `The photo ${name}`, "stored"));
  else if (a.has_thumbnail) {
    inner.prepend(storedImage(`/api/v1/analyses/${a.id}/thumbnail`, `Thumbnail of ${name}`, "stored"));
  }
  td.append(inner);
  const tr = document.createElement("tr");
  tr.className = "detail";
  tr.append(td);
  return tr;
}

/** Fill `tbody` with one row per analysis (cells as `columns` name them), each followed by its result when
 * its id is in `opened`; `redraw` draws the table again after a row is opened or closed. Each cell carries its
 * column's heading (data-label), which a phone shows beside it when the rows become cards (app.css). */
function fill(tbody, items, columns, opened, redraw) {
  const headings = [...tbody.closest("table").tHead.rows[0].cells].filter((th) => !th.hidden)
    .map((th) => th.textContent);
  tbody.replaceChildren(...items.flatMap((a) => {
    const tr = document.createElement("tr");
    tr.dataset.analysis = String(a.id);
    tr.append(...columns.map((c, i) => {
      const td = cell(COLUMNS[c](a, opened, redraw));
      td.className = c;
      td.dataset.label = headings[i];
      if (c === "file" && a.filename) td.title = a.filename; // the whole name where the cell cuts it
      return td;
    }));
    return opened.has(a.id) ? [tr, detail(a, columns.length)] : [tr];
  }));
}

/** Set the source, live-session and class-balance filters (_source_filters.html) that have a value on `params`. */
function filterParams(params) {
  const filters = [["source", "source"], ["session", "session"], ["class-balance-filter", "class_balance"]];
  for (const [id, name] of filters) {
    const value = document.getElementById(id).value;
    if (value) params.set(name, value);
  }
  return params;
}

/** The keys of GET /api/v1/stats's by_class_balance in increasing balance, "unknown" (not recorded) last. */
function balanceKeys(byBalance) {
  return Object.keys(byBalance).sort((a, b) => (a === "unknown") - (b === "unknown") || Number(a) - Number(b));
}

/** Add the class balances in `keys` (of `balanceKeys`) that the filter does not list yet. */
function addBalances(keys) {
  const select = document.getElementById("class-balance-filter");
  const known = new Set([...select.options].map((o) => o.value));
  for (const key of keys.filter((k) => k !== "unknown")) {
    if (!known.has(key)) select.append(new Option(key, key));
  }
}

/** Add the live sessions in `names` that the session filter does not list yet, in name order. */
function addSessions(names) {
  const select = document.getElementById("session");
  const known = new Set([...select.options].map((o) => o.value));
  for (const name of [...names].sort()) if (!known.has(name)) select.append(new Option(name, name));
}

export { fill, filterParams, addSessions, balanceKeys, addBalances };
