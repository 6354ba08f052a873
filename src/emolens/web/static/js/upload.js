// Upload page: send each chosen or dropped image to the API (two at a time), show the results in the order the
// files were given, say how the batch went, and offer a retry on each failure.

import { $ } from "./dom.js";
import { api, explain } from "./common.js";
import { params } from "./settings.js";
import { render } from "./results.js";
import { csv, save, wire } from "./export.js";

const dropzone = $("dropzone");
const input = $("files");
const results = $("results");
const template = $("result-template");
const status = $("status");
const batchCsv = $("batch-csv");
const explainBox = $("explain");
const PARALLEL = 2;
const queue = [];
const analysed = new Map(); // card -> { file, result } of each card with a result, for the batch CSV
let running = 0;

function counts() {
  const cards = [...results.querySelectorAll(".result")];
  const by = (state) => cards.filter((c) => c.dataset.state === state).length;
  return { total: cards.length, done: by("done"), failed: by("error") };
}

function report(latest) {
  const { total, done, failed } = counts();
  const tally = `${done} of ${total} analysed${failed ? `, ${failed} failed` : ""}`;
  status.textContent = queue.length || running ? `${latest ? `${latest} ` : ""}Analysing… ${tally}.`
    : `Done: ${tally}.${latest && total === 1 ? ` ${latest}` : ""}`;
  status.classList.toggle("error", failed > 0 && !queue.length && !running);
  batchCsv.hidden = done === 0;
}

async function analyse(file, card) {
  const form = new FormData();
  form.append("image", file, file.name);
  form.append("source", "upload");
  for (const [key, value] of Object.entries(params())) form.append(key, value);
  if (explainBox.checked) form.append("explain", "true");
  try {
    const result = await api("/api/v1/analyze", { method: "POST", body: form });
    const { faces, text } = await render(card, file, result);
    wire(card, file.name, result, faces);
    analysed.set(card, { file: file.name, result });
    card.dataset.state = "done";
    return text;
  } catch (err) {
    failed(card, file, err);
    return `${file.name}: failed.`;
  }
}

function failed(card, file, err) {
  const summary = card.querySelector(".summary");
  summary.textContent = explain(err);
  summary.classList.add("error-text");
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "small";
  retry.textContent = "Retry";
  retry.setAttribute("aria-label", `Retry ${file.name}`);
  retry.addEventListener("click", () => {
    summary.classList.remove("error-text");
    summary.textContent = "Analysing…";
    card.dataset.state = "pending";
    queue.push({ file, card });
    retry.remove();
    pump();
  }, { once: true });
  card.querySelector("header").append(retry);
  card.dataset.state = "error";
}

function pump() {
  while (running < PARALLEL && queue.length) {
    const { file, card } = queue.shift();
    running += 1;
    analyse(file, card).then((text) => {
      running -= 1;
      report(text);
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
    results.append(card);
    queue.push({ file, card });
  }
  report("");
  pump();
}

input.addEventListener("change", () => { add(input.files); input.value = ""; });
// A file dropped anywhere else must not replace the page (and its results) with the file.
for (const type of ["dragover", "drop"]) document.addEventListener(type, (e) => e.preventDefault());
dropzone.addEventListener("dragenter", () => dropzone.classList.add("over"));
dropzone.addEventListener("dragleave", (e) => {
  if (!dropzone.contains(e.relatedTarget)) dropzone.classList.remove("over");
});
dropzone.addEventListener("drop", (e) => {
  dropzone.classList.remove("over");
  add(e.dataTransfer.files);
});
dropzone.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
});
batchCsv.addEventListener("click", () => {
  const items = [...results.querySelectorAll(".result")].filter((c) => analysed.has(c)).map((c) => analysed.get(c));
  save(new Blob([csv(items)], { type: "text/csv" }), "emolens-results.csv");
});
$("clear").addEventListener("click", () => {
  queue.length = 0;
  analysed.clear();
  results.replaceChildren();
  status.textContent = "";
  status.classList.remove("error");
  batchCsv.hidden = true;
});
