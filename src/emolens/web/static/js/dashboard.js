// Dashboard: charts (Chart.js) and a table of recent analyses, filtered by time range and source.
"use strict";

(() => {
  const { api, colour, labels: modelLabels } = emolens;
  const $ = (id) => document.getElementById(id);
  const status = $("status");
  const PAGE = 20;
  let offset = 0;
  let timer = null;

  const css = getComputedStyle(document.documentElement);
  Chart.defaults.color = css.getPropertyValue("--text").trim();
  Chart.defaults.borderColor = css.getPropertyValue("--track").trim();
  Chart.defaults.animation = false;

  const dist = new Chart($("chart-dist"), {
    type: "doughnut",
    data: { labels: [], datasets: [{ data: [], backgroundColor: [] }] },
    options: { maintainAspectRatio: false, plugins: { legend: { position: "right" } } },
  });
  const time = new Chart($("chart-time"), {
    type: "line",
    data: { labels: [], datasets: [] },
    options: {
      maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
      scales: { y: { stacked: true, beginAtZero: true, title: { display: true, text: "faces" } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
  const bySource = new Chart($("chart-source"), {
    type: "bar",
    data: { labels: [], datasets: [] },
    options: {
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
      plugins: { legend: { display: false } },
    },
  });

  function query(extra = {}) {
    const until = new Date();
    const since = new Date(until.getTime() - Number($("range").value) * 1000);
    const params = new URLSearchParams({ since: since.toISOString(), until: until.toISOString(), ...extra });
    if ($("source").value) params.set("source", $("source").value);
    return params;
  }

  function fmtTime(iso, span) {
    const d = new Date(iso);
    return span > 86400 ? d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })
      : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: span <= 900 ? "2-digit" : undefined });
  }

  /** Every bucket of the range, the empty ones too (the API returns only those with analyses). */
  function fillBuckets(s) {
    const width = s.bucket_seconds * 1000;
    const known = new Map(s.buckets.map((b) => [new Date(b.start).getTime(), b]));
    const all = [];
    for (let t = Math.floor(new Date(s.since).getTime() / width) * width; t < new Date(s.until).getTime(); t += width) {
      all.push(known.get(t) || { start: new Date(t).toISOString() });
    }
    return all;
  }

  function drawStats(s) {
    const labels = s.labels.length ? s.labels : modelLabels;
    $("t-analyses").textContent = s.totals.analyses;
    $("t-frames").textContent = s.totals.frames;
    $("t-faces").textContent = s.totals.faces;
    dist.data.labels = labels;
    dist.data.datasets[0].data = labels.map((l) => s.totals.counts[l] || 0);
    dist.data.datasets[0].backgroundColor = labels.map(colour);
    dist.update();
    const span = (new Date(s.until) - new Date(s.since)) / 1000;
    const buckets = fillBuckets(s);
    time.data.labels = buckets.map((b) => fmtTime(b.start, span));
    time.data.datasets = labels.map((l) => ({
      label: l, data: buckets.map((b) => (b.counts ? b.counts[l] || 0 : 0)), fill: true, tension: 0.3, pointRadius: 0,
      borderColor: colour(l), backgroundColor: `${colour(l)}88`,
    }));
    time.update();
    const sources = Object.keys(s.by_source);
    bySource.data.labels = sources;
    bySource.data.datasets = labels.map((l) => ({
      label: l, data: sources.map((src) => s.by_source[src].counts[l] || 0), backgroundColor: colour(l),
    }));
    bySource.update();
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function drawTable(page) {
    const rows = page.items.map((a) => {
      const tr = document.createElement("tr");
      const top = Object.entries(a.counts).sort((x, y) => y[1] - x[1]).map(([l, n]) => `${l} ×${n}`).slice(0, 2);
      tr.append(cell(a.id), cell(new Date(a.created_at).toLocaleString()), cell(a.source), cell(a.session || ""),
        cell(a.frames), cell(a.faces), cell(top.join(", ") || "–"), cell(a.elapsed_ms.toFixed(1)));
      return tr;
    });
    $("recent").tBodies[0].replaceChildren(...rows);
    const last = Math.min(page.total, offset + page.items.length);
    $("page").textContent = page.total ? `${offset + 1}–${last} of ${page.total}` : "none yet";
    $("prev").disabled = offset === 0;
    $("next").disabled = last >= page.total;
  }

  async function refresh() {
    try {
      const [stats, page] = await Promise.all([
        api(`/api/v1/stats?${query()}`),
        api(`/api/v1/analyses?${query({ limit: PAGE, offset })}`),
      ]);
      drawStats(stats);
      drawTable(page);
      status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      status.classList.remove("error");
    } catch (err) {
      status.textContent = `Could not load: ${err.message}`;
      status.classList.add("error");
    }
  }

  function schedule() {
    clearInterval(timer);
    timer = $("auto").checked ? setInterval(refresh, 5000) : null;
  }

  $("filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  for (const id of ["range", "source"]) $(id).addEventListener("change", () => { offset = 0; refresh(); });
  $("auto").addEventListener("change", schedule);
  $("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refresh(); });
  $("next").addEventListener("click", () => { offset += PAGE; refresh(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  refresh();
  schedule();
})();
