// One analysed photo on the page: the photo with its face boxes and numbered badges (DOM buttons carrying
// data-face, each beside its face: never over a face or another badge where the photo leaves room), and beside it the faces, numbered left to right, each with a thumbnail, its top emotions and the full
// distribution on demand. Hovering or focusing a badge or a list entry highlights both.

import { fromTemplate } from "./dom.js";
import { colour, pct } from "./common.js";
import { drawBoxes, drawExplanations, placeBadges, thumbnail } from "./draw.js";

const MAX_SIDE = 1600;

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
  try { bitmap = await createImageBitmap(file); } catch { /* e.g. TIFF: analysed by the server, not shown */ }
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

export { numbered, ranked, render };
