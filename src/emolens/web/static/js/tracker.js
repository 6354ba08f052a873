// Following faces across live frames in the browser, as `emolens video` and `webcam` do: each face gets an id that
// persists while its box keeps overlapping (greedy matching by IoU), and its probabilities are smoothed over time.

/** Intersection over union of two [x, y, w, h] boxes. */
function iou(a, b) {
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  const inter = Math.max(0, w) * Math.max(0, h);
  return inter / Math.max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9);
}

function top(scores) {
  return Object.keys(scores).reduce((a, b) => (scores[b] > scores[a] ? b : a));
}

/** A tracker; `update(faces, timeS)` returns the faces with `track_id` and smoothed `scores` and `emotion`. Its
 *  constants come from the server (pipeline/tracking.py TRACKING, in the live page's `data-tracking`). */
function create({ smoothingS, iouThreshold, forgetS }) {
  let tracks = [];
  let nextId = 1;
  return {
    update(faces, timeS) {
      tracks = tracks.filter((t) => timeS - t.seen <= forgetS);
      const pairs = [];
      tracks.forEach((t, ti) => faces.forEach((f, fi) => {
        const o = iou(t.box, f.box);
        if (o >= iouThreshold) pairs.push([o, ti, fi]);
      }));
      pairs.sort((a, b) => b[0] - a[0]);
      const assigned = new Map();
      const taken = new Set();
      for (const [, ti, fi] of pairs) {
        if (!assigned.has(fi) && !taken.has(ti)) { assigned.set(fi, tracks[ti]); taken.add(ti); }
      }
      return faces.map((face, fi) => {
        let track = assigned.get(fi);
        if (!track) {
          track = { id: nextId++, box: face.box, scores: { ...face.scores }, seen: timeS };
          tracks.push(track);
        } else {
          const alpha = smoothingS <= 0 ? 1 : 1 - Math.exp(-Math.max(timeS - track.seen, 1e-3) / smoothingS);
          for (const [label, p] of Object.entries(face.scores)) {
            track.scores[label] = alpha * p + (1 - alpha) * (track.scores[label] ?? p);
          }
          track.box = face.box;
          track.seen = timeS;
        }
        return { ...face, track_id: track.id, scores: { ...track.scores }, emotion: top(track.scores) };
      });
    },
    reset() { tracks = []; nextId = 1; },
  };
}

export { create, iou };
