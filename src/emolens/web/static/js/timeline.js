// A rolling timeline of the live emotions: the mean (smoothed) probability of each emotion over the faces in view,
// stacked, for the last `windowS` seconds, drawn on a canvas; gaps where no face was seen.

import { colour } from "./common.js";

function create(canvas, windowS = 30) {
  let samples = [];

  function draw(nowS) {
    const { width, height } = canvas;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    const x = (t) => width * (1 - (nowS - t) / windowS);
    samples.forEach((s, i) => {
      if (!s.mean) return;
      const next = samples[i + 1];
      const x0 = x(s.t);
      const w = Math.max(1, (next ? x(next.t) : width) - x0);
      let y = height;
      for (const [label, p] of Object.entries(s.mean)) {
        ctx.fillStyle = colour(label);
        ctx.fillRect(x0, y - p * height, w + 0.5, p * height);
        y -= p * height;
      }
    });
  }

  return {
    /** Add the faces of one frame at `timeS` and redraw. */
    push(faces, timeS) {
      let mean = null;
      if (faces.length) {
        mean = {};
        for (const f of faces) {
          for (const [label, p] of Object.entries(f.scores)) mean[label] = (mean[label] || 0) + p / faces.length;
        }
      }
      samples.push({ t: timeS, mean });
      samples = samples.filter((s) => timeS - s.t <= windowS);
      draw(timeS);
    },
    clear() {
      samples = [];
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    },
  };
}

/** A legend of the model's labels in their colours, into `list`. */
function legend(list, labels) {
  list.replaceChildren(...labels.map((label) => {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour(label);
    li.append(swatch, label);
    return li;
  }));
}

export { create, legend };
