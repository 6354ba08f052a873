// History: every stored analysis, newest first, a page at a time, filtered by source and live session (also from
// the address: /history?session=...); thumbnails where the server keeps them.

import { $ } from "./dom.js";
import { api, explain } from "./common.js";
import * as analyses from "./analyses.js";

const PAGE = 20;
const ALL_TIME = { since: "0" }; // the API's default range is the last 24 h
const COLUMNS = ["thumb", "id", "time", "file", "source", "session", "faces", "top"];
const opened = new Set();
const wanted = new URLSearchParams(window.location.search);
let offset = 0;

function draw(page) {
  const thumbs = page.items.some((a) => a.has_thumbnail);
  const columns = thumbs ? COLUMNS : COLUMNS.filter((c) => c !== "thumb");
  $("thumb-col").hidden = !thumbs;
  analyses.fill($("history").tBodies[0], page.items, columns, opened, () => draw(page));
  const last = Math.min(page.total, offset + page.items.length);
  const filtered = $("source").value || $("session").value || $("class-balance-filter").value;
  $("page").textContent = page.total ? `${offset + 1}–${last} of ${page.total}` : "none";
  $("empty").hidden = page.total > 0 || Boolean(filtered);
  $("prev").disabled = offset === 0;
  $("next").disabled = last >= page.total;
  $("status").textContent = page.total || !filtered ? "" : "No analysis matches these filters.";
}

async function load() {
  const params = analyses.filterParams(new URLSearchParams(ALL_TIME));
  params.set("limit", PAGE);
  params.set("offset", offset);
  try {
    draw(await api(`/api/v1/analyses?${params}`));
    $("status").classList.remove("error");
  } catch (err) {
    $("status").textContent = `Could not load: ${explain(err)}`;
    $("status").classList.add("error");
  }
}

async function init() {
  for (const id of ["source", "session"]) {
    if (wanted.get(id)) {
      analyses.addSessions(id === "session" ? [wanted.get(id)] : []);
      $(id).value = wanted.get(id);
    }
    $(id).addEventListener("change", () => { offset = 0; load(); });
  }
  $("class-balance-filter").addEventListener("change", () => { offset = 0; load(); });
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  $("next").addEventListener("click", () => { offset += PAGE; load(); });
  load();
  try {
    const [settings, stats] = await Promise.all([
      api("/api/v1/settings"), api(`/api/v1/stats?${new URLSearchParams({ ...ALL_TIME, bucket: 2678400 })}`)]);
    $("thumbs-off").hidden = settings.store_thumbnails;
    analyses.addSessions(Object.keys(stats.by_session));
    analyses.addBalances(analyses.balanceKeys(stats.by_class_balance));
  } catch { /* the list says what went wrong */ }
}

init();
