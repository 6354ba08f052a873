// Dashboard: charts (Chart.js) and a table of recent analyses, filtered by time range, source and live session.
// Photos and live frames are shown apart, or as shares, since a live session counts every face in every frame.

import { $ } from "./dom.js";
import { api, apiBlob, explain, colour, pct, labels as modelLabels } from "./common.js";
import * as analyses from "./analyses.js";
import { save } from "./export.js";

const status = $("status");
const PAGE = 20;
const opened = new Set(); // ids of the analyses whose result is shown
let offset = 0;
let timer = null;
let busy = false; // a load is in flight
let again = false; // the user asked for a load while one was in flight
const POLL_MS = 5000;

const css = getComputedStyle(document.documentElement);
Chart.defaults.color = css.getPropertyValue("--text").trim();
Chart.defaults.borderColor = css.getPropertyValue("--track").trim();
Chart.defaults.animation = false;

/** Writes each slice's share on the doughnut (slices of 4% and more). */
const sliceShares = {
  id: "sliceShares",
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    ctx.save();
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(0, 0, 0, 0.75)";
    ctx.fillStyle = "#ffffff";
    chart.data.datasets.forEach((set, i) => {
      const total = set.data.reduce((a, b) => a + b, 0);
      chart.getDatasetMeta(i).data.forEach((arc, j) => {
        if (!total || set.data[j] / total < 0.04) return;
        const { x, y } = arc.tooltipPosition();
        ctx.strokeText(pct(set.data[j] / total), x, y);
        ctx.fillText(pct(set.data[j] / total), x, y);
      });
    });
    ctx.restore();
  },
};

const share = (items) => {
  const total = items.dataset.data.reduce((a, b) => a + b, 0);
  return `${items.dataset.label}: ${items.label} ${pct(total ? items.raw / total : 0)} (${items.raw} faces)`;
};
const dist = new Chart($("chart-dist"), {
  type: "doughnut",
  data: { labels: [], datasets: [] },
  options: {
    maintainAspectRatio: false,
    plugins: { legend: { position: "right" }, tooltip: { callbacks: { label: share } } },
  },
  plugins: [sliceShares],
});
const time = new Chart($("chart-time"), {
  type: "line",
  data: { labels: [], datasets: [] },
  options: {
    maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
    scales: {
      x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } },
      y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "faces" } },
    },
    plugins: { legend: { position: "bottom" } },
  },
});
const bySource = new Chart($("chart-source"), {
  type: "bar",
  data: { labels: [], datasets: [] },
  options: {
    maintainAspectRatio: false,
    scales: {
      x: { stacked: true },
      y: { stacked: true, min: 0, max: 100, title: { display: true, text: "% of faces" } },
    },
    plugins: {
      legend: { display: false },
      tooltip: { callbacks: { label: (i) => `${i.dataset.label} ${i.raw.toFixed(0)}%` } },
    },
  },
});

function query(extra = {}) {
  const until = new Date();
  const since = new Date(until.getTime() - Number($("range").value) * 1000);
  return analyses.filterParams(
    new URLSearchParams({ since: since.toISOString(), until: until.toISOString(), ...extra }));
}

function fmtTime(iso, span) {
  const d = new Date(iso);
  return span > 86400 ? d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })
    : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: span <= 900 ? "2-digit" : undefined });
}

// The time chart asks for buckets much finer than it draws (FINE over the range), finds where the data lies,
// and draws at most SHOWN buckets over the range or, when the data spans under FIT_BELOW of it, over the data
// with a margin: minutes-old data in the last hour is then drawn across the chart, not as a spike at its edge.
const WIDTHS = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400]; // each divides the next
const [FINE, SHOWN, FIT_BELOW] = [600, 60, 0.25];
const widthFor = (spanS, most) => WIDTHS.find((w) => spanS / w <= most) || WIDTHS[WIDTHS.length - 1];

/** The window to draw ({since, until, fitted}, epoch ms): the range, or the part of it that holds the data. */
function timeWindow(s) {
  const [since, until] = [new Date(s.since).getTime(), new Date(s.until).getTime()];
  if (!s.buckets.length) return { since, until, fitted: false };
  const fine = s.bucket_seconds * 1000;
  const first = new Date(s.buckets[0].start).getTime();
  const last = new Date(s.buckets[s.buckets.length - 1].start).getTime() + fine;
  if (last - first >= FIT_BELOW * (until - since)) return { since, until, fitted: false };
  const margin = Math.max(0.1 * (last - first), fine);
  return { since: Math.max(since, first - margin), until: Math.min(until, last + margin), fitted: true };
}

/** Every bucket of the window at the drawn width, the empty ones too, summing the fine buckets in each. */
function timeBuckets(s, window, labels) {
  const width = Math.max(s.bucket_seconds, widthFor((window.until - window.since) / 1000, SHOWN)) * 1000;
  const sums = new Map();
  for (const b of s.buckets) {
    const t = Math.floor(new Date(b.start).getTime() / width) * width;
    const sum = sums.get(t) || Object.fromEntries(labels.map((l) => [l, 0]));
    for (const l of labels) sum[l] += b.counts[l] || 0;
    sums.set(t, sum);
  }
  const all = [];
  for (let t = Math.floor(window.since / width) * width; t < window.until; t += width) {
    all.push({ start: new Date(t).toISOString(), counts: sums.get(t) || {} });
  }
  return all;
}

/** Photos (upload and API) and live frames, each summed apart. */
function split(s, labels) {
  const sum = (sources) => {
    const groups = sources.map((k) => s.by_source[k]).filter(Boolean);
    return {
      analyses: groups.reduce((a, g) => a + g.analyses, 0),
      frames: groups.reduce((a, g) => a + g.frames, 0),
      faces: groups.reduce((a, g) => a + g.faces, 0),
      counts: labels.map((l) => groups.reduce((a, g) => a + (g.counts[l] || 0), 0)),
    };
  };
  return { photos: sum(["upload", "api"]), live: sum(["webcam"]) };
}

function describe(name, counts, labels) {
  const total = counts.reduce((a, b) => a + b, 0);
  return `${name}: ${labels.map((l, i) => [l, counts[i]]).filter(([, n]) => n).sort((a, b) => b[1] - a[1])
    .map(([l, n]) => `${l} ${pct(n / total)}`).join(", ")}`;
}

function drawTime(s, labels) {
  const window = timeWindow(s);
  const span = (window.until - window.since) / 1000;
  const buckets = timeBuckets(s, window, labels);
  time.data.labels = buckets.map((b) => fmtTime(b.start, span));
  time.data.datasets = labels.map((l) => ({
    label: l, data: buckets.map((b) => b.counts[l] || 0), fill: true, tension: 0.3, pointRadius: 0,
    borderColor: colour(l), backgroundColor: `${colour(l)}88`,
  }));
  time.update();
  const note = $("time-fitted");
  note.hidden = !window.fitted;
  note.textContent = window.fitted ? `Zoomed to where the data is: ${fmtTime(window.since, span)} to `
    + `${fmtTime(window.until, span)}.` : "";
}

function drawStats(s) {
  const labels = s.labels.length ? s.labels : modelLabels;
  const { photos, live } = split(s, labels);
  $("t-analyses").textContent = photos.analyses;
  $("t-faces").textContent = photos.faces;
  $("t-frames").textContent = live.frames;
  $("t-live-faces").textContent = live.faces;
  const empty = s.totals.analyses === 0;
  $("empty").hidden = !empty;
  $("charts").hidden = empty;
  analyses.addSessions(Object.keys(s.by_session));
  const balances = analyses.balanceKeys(s.by_class_balance);
  analyses.addBalances(balances);
  $("balance-mix").hidden = balances.length < 2;
  $("balance-mix-list").textContent = balances.join(", ");
  const rings = [["Photos", photos], ["Live", live]].filter(([, g]) => g.faces > 0);
  dist.data.labels = labels;
  dist.data.datasets = rings.map(([name, g]) => ({
    label: name, data: g.counts, backgroundColor: labels.map(colour),
  }));
  dist.update();
  $("chart-dist").setAttribute("aria-label", `Share of faces per emotion. ${rings.map(([name, g]) =>
    describe(name, g.counts, labels)).join(". ")}`);
  drawTime(s, labels);
  const sources = Object.keys(s.by_source);
  bySource.data.labels = sources;
  bySource.data.datasets = labels.map((l) => ({
    label: l, backgroundColor: colour(l),
    data: sources.map((src) => (100 * (s.by_source[src].counts[l] || 0)) / Math.max(1, s.by_source[src].faces)),
  }));
  bySource.update();
}

const COLUMNS = ["id", "time", "source", "file", "session", "frames", "faces", "top", "ms"];

function drawTable(page) {
  analyses.fill($("recent").tBodies[0], page.items, COLUMNS, opened, () => drawTable(page));
  const last = Math.min(page.total, offset + page.items.length);
  $("page").textContent = page.total ? `${offset + 1}–${last} of ${page.total}` : "none yet";
  $("prev").disabled = offset === 0;
  $("next").disabled = last >= page.total;
}

/** Reloads charts and table. A poll is skipped while a load is in flight or the tab is hidden; a load asked for
 * by the user (a filter, a page) while one is in flight runs right after it, so that no change is lost. */
async function refresh(poll = false) {
  if (document.visibilityState === "hidden") return;
  if (busy) {
    again ||= !poll;
    return;
  }
  busy = true;
  try {
    const [stats, page] = await Promise.all([
      api(`/api/v1/stats?${query({ bucket: widthFor(Number($("range").value), FINE) })}`),
      api(`/api/v1/analyses?${query({ limit: PAGE, offset })}`),
    ]);
    drawStats(stats);
    drawTable(page);
    status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    status.classList.remove("error");
  } catch (err) {
    status.textContent = `Could not load: ${explain(err)}`;
    status.classList.add("error");
  } finally {
    busy = false;
    if (again) {
      again = false;
      refresh();
    }
  }
}

function schedule() {
  clearInterval(timer);
  timer = $("auto").checked ? setInterval(() => refresh(true), POLL_MS) : null;
}

async function downloadCsv() {
  try {
    save(await apiBlob(`/api/v1/analyses.csv?${query()}`), "emolens-analyses.csv");
  } catch (err) {
    status.textContent = `Could not export: ${explain(err)}`;
    status.classList.add("error");
  }
}

const wanted = new URLSearchParams(window.location.search).get("session");
if (wanted) { analyses.addSessions([wanted]); $("session").value = wanted; }
$("filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
for (const id of ["range", "source", "session", "class-balance-filter"]) {
  $(id).addEventListener("change", () => { offset = 0; refresh(); });
}
$("auto").addEventListener("change", schedule);
$("csv").addEventListener("click", downloadCsv);
$("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refresh(); });
$("next").addEventListener("click", () => { offset += PAGE; refresh(); });
document.addEventListener("visibilitychange", () => refresh(true));
refresh();
schedule();
