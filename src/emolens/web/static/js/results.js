// One analysed photo on the page: the photo with its face boxes and numbered badges (DOM buttons carrying
// data-face), and beside it the faces, numbered left to right, each with a thumbnail, its top emotions and the full
// distribution on demand. Hovering or focusing a badge or a list entry highlights both.
"use strict";

const emolensResults = (() => {
  const { colour, pct } = emolens;
  const MAX_SIDE = 1600;
  const THUMB = 44;

  /** The faces ordered left to right (by the centre of their box), each with its number from 1. */
  function numbered(faces) {
    return faces.map((face) => ({ ...face }))
      .sort((a, b) => (a.box[0] + a.box[2] / 2) - (b.box[0] + b.box[2] / 2))
      .map((face, i) => ({ ...face, number: i + 1 }));
  }

  /** The labels of a face's scores, most probable first. */
  function ranked(face) {
    return Object.keys(face.scores).sort((a, b) => face.scores[b] - face.scores[a]);
  }

  function fromTemplate(id) {
    return document.getElementById(id).content.firstElementChild.cloneNode(true);
  }

  function bars(face) {
    const list = document.createElement("ul");
    list.className = "bars";
    for (const label of Object.keys(face.scores)) {
      const bar = fromTemplate("bar-template");
      const value = pct(face.scores[label]);
      bar.querySelector(".label").textContent = label;
      const track = bar.querySelector(".track");
      track.setAttribute("aria-label", label);
      track.setAttribute("aria-valuenow", (100 * face.scores[label]).toFixed(0));
      track.setAttribute("aria-valuetext", value);
      const fill = bar.querySelector(".fill");
      fill.style.width = value;
      fill.style.background = colour(label);
      bar.querySelector(".pct").textContent = value;
      list.append(bar);
    }
    return list;
  }

  /** Boxes (no text: the numbers are DOM badges) in each face's colour. */
  function drawBoxes(ctx, faces, scale) {
    ctx.lineWidth = Math.max(2, Math.round(ctx.canvas.width / 500));
    for (const face of faces) {
      const [x, y, w, h] = face.box.map((v) => v * scale);
      ctx.strokeStyle = colour(face.emotion);
      ctx.strokeRect(x, y, w, h);
    }
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

  function thumbnail(canvas, bitmap, face, scale) {
    const [x, y, w, h] = face.box.map((v) => v * scale);
    const side = Math.max(w, h) * 1.15;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(bitmap, x + w / 2 - side / 2, y + h / 2 - side / 2, side, side, 0, 0, THUMB, THUMB);
  }

  function faceEntry(face) {
    const entry = fromTemplate("face-template");
    const [first, second] = ranked(face);
    entry.dataset.face = String(face.number);
    entry.style.setProperty("--face-colour", colour(first));
    entry.querySelector(".num").textContent = `${face.number}.`;
    entry.querySelector(".emotion").textContent = first;
    entry.querySelector(".pct").textContent = pct(face.scores[first]);
    entry.querySelector(".second").textContent = second ? `then ${second} ${pct(face.scores[second])}` : "";
    entry.querySelector("details").append(bars(face));
    return entry;
  }

  function badge(face, width, height) {
    const button = document.createElement("button");
    const [x, y, w] = face.box;
    button.type = "button";
    button.className = "badge";
    button.dataset.face = String(face.number);
    button.textContent = String(face.number);
    button.style.left = `${(100 * (x + w / 2)) / width}%`;
    button.style.top = `${(100 * Math.max(0, y)) / height}%`;
    button.style.setProperty("--face-colour", colour(face.emotion));
    button.setAttribute("aria-label", `Face ${face.number}: ${face.emotion} ${pct(face.scores[face.emotion])}`);
    return button;
  }

  /** Highlight face `n` in both the photo and the list while either is hovered or focused; a badge opens its entry. */
  function link(card) {
    const all = (n) => card.querySelectorAll(`[data-face="${n}"]`);
    const set = (target, on) => {
      const item = target.closest("[data-face]");
      if (item) all(item.dataset.face).forEach((el) => el.classList.toggle("hl", on));
    };
    for (const [enter, leave] of [["mouseover", "mouseout"], ["focusin", "focusout"]]) {
      card.addEventListener(enter, (e) => set(e.target, true));
      card.addEventListener(leave, (e) => set(e.target, false));
    }
    card.querySelector(".figure").addEventListener("click", (e) => {
      const hit = e.target.closest(".badge");
      if (!hit) { card.querySelector(".zoom").click(); return; }
      const entry = card.querySelector(`.face[data-face="${hit.dataset.face}"]`);
      entry.querySelector("details").open = true;
      entry.scrollIntoView({ block: "nearest" });
      entry.querySelector("summary").focus();
    });
    card.querySelector(".zoom").addEventListener("click", (e) => {
      const zoomed = card.classList.toggle("zoomed");
      e.currentTarget.setAttribute("aria-pressed", String(zoomed));
      e.currentTarget.textContent = zoomed ? "Smaller photo" : "Enlarge photo";
    });
  }

  /** A sentence for the live region and the photo's text alternative. */
  function describe(name, faces) {
    if (!faces.length) return `${name}: no face found.`;
    const list = faces.map((f) => `${f.number}. ${f.emotion}`).join(", ");
    return `${name}: ${faces.length} face${faces.length === 1 ? "" : "s"}, left to right: ${list}.`;
  }

  /** Fill `card` with the result of `file`; the photo is left out (with a note) where the browser cannot decode it. */
  async function render(card, file, result) {
    const faces = numbered(result.faces);
    const text = describe(file.name, faces);
    let bitmap = null;
    try { bitmap = await createImageBitmap(file); } catch (_) { /* e.g. TIFF: analysed by the server, not shown */ }
    const list = card.querySelector(".faces");
    const n = faces.length;
    const ms = result.timing.analyze_ms.toFixed(0);
    card.querySelector(".summary").textContent = (n
      ? `${n} face${n === 1 ? "" : "s"}, numbered left to right · analysed in ${ms} ms` : "No face found.")
      + (bitmap ? "" : " This browser cannot display this image format, so only the results are shown.");
    if (bitmap) {
      const figure = card.querySelector(".figure");
      const canvas = figure.querySelector("canvas");
      const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      const ctx = canvas.getContext("2d");
      ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      drawExplanations(ctx, faces, canvas.width / result.width);
      drawBoxes(ctx, faces, canvas.width / result.width);
      canvas.setAttribute("aria-label", text);
      figure.append(...faces.map((f) => badge(f, result.width, result.height)));
      figure.hidden = false;
    }
    for (const face of faces) {
      const entry = faceEntry(face);
      if (bitmap) thumbnail(entry.querySelector(".thumb"), bitmap, face, bitmap.width / result.width);
      else entry.querySelector(".thumb").remove();
      list.append(entry);
    }
    if (bitmap) bitmap.close();
    card.querySelector(".actions").hidden = false;
    card.querySelector(".zoom").hidden = !bitmap;
    card.querySelector(".dl-png").hidden = !bitmap;
    link(card);
    return { faces, text };
  }

  return { numbered, ranked, render };
})();
