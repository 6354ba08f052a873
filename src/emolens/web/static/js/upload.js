// Upload page: send each chosen or dropped image to the API (two at a time) and show it annotated.
"use strict";

(() => {
  const { api, colour, pct, drawFaces, labels } = emolens;
  const dropzone = document.getElementById("dropzone");
  const input = document.getElementById("files");
  const results = document.getElementById("results");
  const template = document.getElementById("result-template");
  const status = document.getElementById("status");
  const tta = document.getElementById("tta");
  const explain = document.getElementById("explain");
  const MAX_SIDE = 1280;
  const PARALLEL = 2;
  const queue = [];
  let running = 0;
  let done = 0;

  function bars(scores) {
    const list = document.createElement("ul");
    list.className = "bars";
    const order = labels.length ? labels : Object.keys(scores);
    for (const label of order) {
      const li = document.createElement("li");
      li.className = "bar";
      const name = document.createElement("span");
      name.textContent = label;
      const track = document.createElement("span");
      track.className = "track";
      track.setAttribute("role", "meter");
      track.setAttribute("aria-label", label);
      track.setAttribute("aria-valuemin", "0");
      track.setAttribute("aria-valuemax", "100");
      track.setAttribute("aria-valuenow", (100 * (scores[label] || 0)).toFixed(0));
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.width = pct(scores[label] || 0);
      fill.style.background = colour(label);
      track.append(fill);
      const value = document.createElement("span");
      value.className = "pct";
      value.textContent = pct(scores[label] || 0);
      li.append(name, track, value);
      list.append(li);
    }
    return list;
  }

  /** Each face's explanation grid as a red heat map over its crop (clear where hiding changes nothing). */
  function drawExplanations(ctx, faces, scale) {
    for (const face of faces) {
      const ex = face.explanation;
      if (!ex) continue;
      const n = ex.grid.length;
      const top = Math.max(1e-6, ...ex.grid.flat());
      const cells = new ImageData(n, n);
      ex.grid.flat().forEach((v, i) => {
        cells.data.set([239, 68, 68, Math.round(160 * Math.max(0, v) / top)], 4 * i);
      });
      const small = document.createElement("canvas");
      small.width = n;
      small.height = n;
      small.getContext("2d").putImageData(cells, 0, 0);
      const side = ex.region.side * scale;
      ctx.save();
      ctx.translate(ex.region.center[0] * scale, ex.region.center[1] * scale);
      ctx.rotate((ex.region.angle * Math.PI) / 180);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(small, -side / 2, -side / 2, side, side);
      ctx.restore();
    }
  }

  async function render(card, file, result) {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = card.querySelector("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    drawExplanations(ctx, result.faces, canvas.width / result.width);
    drawFaces(ctx, result.faces, (canvas.width / result.width));
    bitmap.close();
    const n = result.faces.length;
    const emotions = result.faces.map((f) => f.emotion).join(", ");
    canvas.setAttribute("aria-label", `${file.name}: ${n} face${n === 1 ? "" : "s"}${n ? `: ${emotions}` : ""}`);
    card.querySelector(".summary").textContent = n
      ? `${n} face${n === 1 ? "" : "s"} · analysed in ${result.timing.analyze_ms.toFixed(0)} ms`
      : "No face found.";
    const list = card.querySelector(".faces");
    result.faces.forEach((face) => {
      const li = document.createElement("li");
      li.className = "face";
      const head = document.createElement("strong");
      head.className = "emotion";
      head.textContent = `${face.emotion} ${pct(face.scores[face.emotion])}`;
      head.style.color = colour(face.emotion);
      li.append(head, bars(face.scores));
      list.append(li);
    });
  }

  async function analyse(file, card) {
    const form = new FormData();
    form.append("image", file, file.name);
    form.append("source", "upload");
    if (tta.checked) form.append("tta", "true");
    if (explain.checked) form.append("explain", "true");
    try {
      const result = await api("/api/v1/analyze", { method: "POST", body: form });
      await render(card, file, result);
      card.dataset.state = "done";
    } catch (err) {
      const p = card.querySelector(".summary");
      p.textContent = err.message;
      p.classList.add("error-text");
      card.dataset.state = "error";
    }
  }

  function pump() {
    while (running < PARALLEL && queue.length) {
      const { file, card } = queue.shift();
      running += 1;
      analyse(file, card).finally(() => {
        running -= 1;
        done += 1;
        status.textContent = queue.length || running ? `Analysing… ${done} done, ${queue.length + running} to go`
          : `Done: ${done} image${done === 1 ? "" : "s"}.`;
        pump();
      });
    }
  }

  function add(files) {
    for (const file of files) {
      const card = template.content.firstElementChild.cloneNode(true);
      card.querySelector(".name").textContent = file.name;
      card.querySelector(".summary").textContent = "Analysing…";
      card.dataset.state = "pending";
      results.prepend(card);
      queue.push({ file, card });
    }
    status.textContent = `Analysing… ${queue.length + running} to go`;
    pump();
  }

  input.addEventListener("change", () => { add(input.files); input.value = ""; });
  dropzone.addEventListener("dragover", (e) => { e.preventDefault(); dropzone.classList.add("over"); });
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", (e) => {
    e.preventDefault();
    dropzone.classList.remove("over");
    add(e.dataTransfer.files);
  });
  dropzone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  document.getElementById("clear").addEventListener("click", () => {
    results.replaceChildren();
    done = 0;
    status.textContent = "";
  });
})();
