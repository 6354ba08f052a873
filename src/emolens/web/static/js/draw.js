// Faces on a canvas, for every page: the live overlay (box, landmarks and label), the result photo (boxes and
// explanation heat maps), where numbered badges go beside their faces, and those badges drawn for a download.

import { colour, pct } from "./common.js";

const THUMB = 44; // the side of a face thumbnail, in canvas pixels

/** Draw each face's box, landmarks and "emotion NN%" label in the colour of its emotion, scaled by `scale`. */
export function drawFaces(ctx, faces, scale) {
  const px = ctx.canvas.width / (ctx.canvas.clientWidth || ctx.canvas.width); // canvas pixels per CSS pixel
  const line = Math.max(1, Math.round(2 * px));
  const size = Math.round(15 * px);
  ctx.lineWidth = line;
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  faces.forEach((face, i) => {
    const [x, y, w, h] = face.box.map((v) => v * scale);
    const tag = face.track_id != null ? `#${face.track_id} ` : `${faces.length > 1 ? `${i + 1}. ` : ""}`;
    const text = `${tag}${face.emotion} ${pct(face.scores[face.emotion])}`;
    ctx.strokeStyle = colour(face.emotion);
    ctx.strokeRect(x, y, w, h);
    ctx.fillStyle = colour(face.emotion);
    for (const [lx, ly] of face.landmarks || []) {
      ctx.beginPath();
      ctx.arc(lx * scale, ly * scale, 1.5 * line, 0, 2 * Math.PI);
      ctx.fill();
    }
    const tw = ctx.measureText(text).width + 8;
    const th = size + 6;
    const ty = y - th < 0 ? y + h + th : y;
    ctx.fillStyle = "rgba(10, 12, 30, 0.75)";
    const tx = Math.max(0, Math.min(x - line / 2, ctx.canvas.width - tw));
    ctx.fillRect(tx, ty - th, tw, th);
    ctx.fillStyle = colour(face.emotion);
    ctx.fillText(text, tx + 4, ty - 3);
  });
}

/** Boxes (no text: the numbers are DOM badges) in each face's colour. */
export function drawBoxes(ctx, faces, scale) {
  ctx.lineWidth = Math.max(2, Math.round(ctx.canvas.width / 500));
  for (const face of faces) {
    const [x, y, w, h] = face.box.map((v) => v * scale);
    ctx.strokeStyle = colour(face.emotion);
    ctx.strokeRect(x, y, w, h);
  }
}

/** Each face's explanation grid as a red heat map over its crop (clear where hiding changes nothing). */
export function drawExplanations(ctx, faces, scale) {
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

/** Where each face's badge goes: the centres, in the units of `boxes` ([x, y, w, h] in a `width` x `height`
 * picture), of square badges `size` wide. Each badge sits just outside its own face, above it where there is
 * room, else below, beside or at a corner of it: the first of these places, inside the picture, that covers no
 * face and no badge placed before it; failing that, the place that overlaps least (badges weigh more than faces). */
export function placeBadges(boxes, width, height, size) {
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

/** Each face's number in a dark disc where its badge goes (as placed by placeBadges), scaled by `scale`. */
export function drawBadges(ctx, faces, scale) {
  const r = Math.max(10, Math.round(ctx.canvas.width / 90));
  ctx.font = `700 ${Math.round(r * 1.2)}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const spots = placeBadges(faces.map((f) => f.box.map((v) => v * scale)), ctx.canvas.width, ctx.canvas.height,
    2 * r);
  faces.forEach((f, i) => {
    const [cx, cy] = spots[i];
    ctx.fillStyle = "#0b1030";
    ctx.beginPath();
    ctx.arc(cx, cy, r, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = "#ffffff";
    ctx.fillText(String(f.number), cx, cy);
  });
}

/** The face, squared and a little wider than its box, drawn from `bitmap` on the thumbnail `canvas`. */
export function thumbnail(canvas, bitmap, face, scale) {
  const [x, y, w, h] = face.box.map((v) => v * scale);
  const side = Math.max(w, h) * 1.15;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, x + w / 2 - side / 2, y + h / 2 - side / 2, side, side, 0, 0, THUMB, THUMB);
}
