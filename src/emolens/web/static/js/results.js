// One analysed photo on the page: the photo with its face boxes and numbered badges (DOM buttons carrying
// data-face, each beside its face: never over a face or another badge where the photo leaves room), and beside it the faces, numbered left to right, each with a thumbnail, its top emotions and the full
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

  /** Where each face's badge goes: the centres, in the units of `boxes` ([x, y, w, h] in a `width` x `height`
   * picture), of square badges `size` wide. Each badge sits just outside its own face, above it where there is
   * room, else below, beside or at a corner of it: the first of these places, inside the picture, that covers no
   * face and no badge placed before it; failing that, the place that overlaps least (badges weigh more than faces). */
  function placeBadges(boxes, width, height, size) {
    const half = size / 2;
    const gap = size * 0.15;
    const rect = ([cx, cy]) => [cx - half, cy - half, cx + half, cy + half];
    const overlap = (a, b) => Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]))
      * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
    const clamp = ([cx, cy]) => [Math.min(Math.max(cx, half), Math.max(half, width - half)),
      Math.min(Math.max(cy, half), Math.max(half, height - half))];
    const faces = boxes.map(([x, y, w, h]) => [x, y, x + w, y + h]);
    const placed = [];
    return boxes.map(([x, y, w, h]) => {
      const [left, top, right, bottom] = [x - gap - half, y - gap - half, x + w + gap + half, y + h + gap + half];
      const spots = [[x + w / 2, top], [x + w / 2, bottom], [left, y + h / 2], [right, y + h / 2],
        [left, top], [right, top], [left, bottom], [right, bottom]].map(clamp);
      let best = spots[0];
      let least = Infinity;
      for (const spot of spots) {
        const r = rect(spot);
        const cost = faces.reduce((sum, f) => sum + overlap(r, f), 0)
          + 4 * placed.reduce((sum, p) => sum + overlap(r, p), 0);
        if (cost < least) [best, least] = [spot, cost];
        if (cost === 0) break;
      }
      placed.push(rect(best));
      return best;
    });
  }

  function badge(face) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "badge";
    button.dataset.face = String(face.number);
    button.textContent = String(face.number);
    button.style.setProperty("--face-colour", colour(face.emotion));
    button.setAttribute("aria-label", `Face ${face.number}: ${face.emotion} ${pct(face.scores[face.emotion])}`);
    return button;
  }

  /** Put the figure's badges beside their faces, as the photo is shown now (the canvas letterboxes it). */
  function layoutBadges(figure, faces, width, height) {
    const canvas = figure.querySelector("canvas");
    const badges = [...figure.querySelectorAll(".badge")];
    const [boxW, boxH] = [canvas.clientWidth, canvas.clientHeight];
    if (!boxW || !boxH || !badges.length) return;
    const scale = Math.min(boxW / width, boxH / height);
    const [dx, dy] = [(boxW - width * scale) / 2, (boxH - height * scale) / 2];
    const size = Math.max(...badges.map((b) => Math.max(b.offsetWidth, b.offsetHeight)));
    const spots = placeBadges(faces.map((f) => f.box.map((v) => v * scale)), width * scale, height * scale, size);
    spots.forEach(([cx, cy], i) => {
      badges[i].style.left = `${(100 * (dx + cx)) / boxW}%`;
      badges[i].style.top = `${(100 * (dy + cy)) / boxH}%`;
    });
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
      ? `${n} face${n === 1 ? "" : "s"}, numbered left to right · ${result.detector}`
        + `${result.class_balance == null ? "" : ` · class balance ${result.class_balance}`} · analysed in ${ms} ms`
      : `No face found (${result.detector}).`)
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
      figure.append(...faces.map(badge));
      figure.hidden = false;
      new ResizeObserver(() => layoutBadges(figure, faces, result.width, result.height)).observe(canvas);
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

  return { numbered, ranked, placeBadges, render };
})();
