// Downloads of results: the annotated photo (PNG), a result as JSON, results as CSV (a face row per face).

import { $ } from "./dom.js";
import { drawBadges } from "./draw.js";

/** Offer `blob` as a download named `name`. */
function save(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
}

function base(name) { return name.replace(/\.[^.]*$/, "") || "photo"; }

const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A CSV cell, quoted where RFC 4180 needs it. A text that starts like a formula (and is not a plain number)
 * gets a leading ', so a spreadsheet shows it, never runs it: the rule of every emolens CSV (csvcells.py). */
function cell(value) {
  let text = String(value);
  if (typeof value === "string" && FORMULA_START.test(text.replace(/^'+/, "")) && !NUMBER.test(text)) {
    text = `'${text}`;
  }
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The columns of a face row, in order: the server's (pipeline/rows.py), given to the upload page. */
function columns() { return JSON.parse($("results").dataset.faceColumns); }

/** CSV text, one face row per face of each item ({ file, result }: an answer of the API), the server's columns
 * filled by name: the file, the face's index in the answer (as `emolens analyze --csv` counts), its fields, box
 * and probabilities, and the class balance that scored it. */
function csv(items) {
  const names = columns();
  const rows = [names];
  for (const { file, result } of items) {
    result.faces.forEach((f, index) => {
      const [x, y, w, h] = f.box;
      const values = { ...f, ...f.scores, x, y, w, h, source: file, face: index,
        class_balance: result.class_balance };
      rows.push(names.map((name) => values[name] ?? ""));
    });
  }
  return `${rows.map((r) => r.map(cell).join(",")).join("\r\n")}\r\n`;
}

/** The card's photo with boxes, plus each face's number drawn where its badge is. */
function annotated(canvas, faces, width) {
  const out = document.createElement("canvas");
  out.width = canvas.width;
  out.height = canvas.height;
  const ctx = out.getContext("2d");
  ctx.drawImage(canvas, 0, 0);
  drawBadges(ctx, faces, canvas.width / width);
  return new Promise((resolve) => out.toBlob(resolve, "image/png"));
}

/** Wire the PNG, JSON and CSV buttons of a result card. */
function wire(card, file, result, faces) {
  const name = base(file);
  card.querySelector(".dl-png").addEventListener("click", async () => {
    save(await annotated(card.querySelector(".figure canvas"), faces, result.width), `${name}-emotions.png`);
  });
  card.querySelector(".dl-json").addEventListener("click", () => {
    const body = JSON.stringify({ file, ...result, faces }, null, 2);
    save(new Blob([body], { type: "application/json" }), `${name}-emotions.json`);
  });
  card.querySelector(".dl-csv").addEventListener("click", () => {
    save(new Blob([csv([{ file, result }])], { type: "text/csv" }), `${name}-emotions.csv`);
  });
}

export { save, csv, wire };
