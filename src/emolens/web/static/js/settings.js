// Analysis settings of the Upload and Live pages: the face detector (only those the server allows, from
// GET /api/v1/settings), the minimum face score and test-time augmentation, remembered in this browser.
"use strict";

const emolensSettings = (() => {
  const { api } = emolens;
  const KEY = "emolens.settings";
  const $ = (id) => document.getElementById(id);
  const [detector, minScore, output, tta] = ["detector", "min-score", "min-score-value", "tta"].map($);

  function remembered() {
    try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (_) { return {}; }
  }

  function save() {
    localStorage.setItem(KEY, JSON.stringify({ detector: detector.value, min_score: minScore.value, tta: tta.checked }));
  }

  function showScore() {
    const value = Number(minScore.value);
    output.textContent = value > 0 ? value.toFixed(2) : "any";
    minScore.setAttribute("aria-valuetext", value > 0 ? `at least ${value.toFixed(2)}` : "any face");
  }

  /** Fill the controls from the server's allowed settings and this browser's last choices. */
  async function load() {
    const kept = remembered();
    let allowed = { detectors: [], tta: false };
    try { allowed = await api("/api/v1/settings"); } catch (_) { /* the server's defaults apply */ }
    detector.replaceChildren(...allowed.detectors.map((name, i) => new Option(i ? name : `${name} (default)`, name)));
    if (allowed.detectors.includes(kept.detector)) detector.value = kept.detector;
    detector.disabled = allowed.detectors.length < 2;
    minScore.value = kept.min_score ?? "0";
    tta.checked = kept.tta ?? allowed.tta;
    showScore();
  }

  /** The chosen settings as API parameters (only those that differ from the server's defaults). */
  function params() {
    const out = {};
    if (detector.value && detector.selectedIndex > 0) out.detector = detector.value;
    if (Number(minScore.value) > 0) out.min_score = minScore.value;
    out.tta = String(tta.checked);
    return out;
  }

  minScore.addEventListener("input", showScore);
  for (const el of [detector, minScore, tta]) el.addEventListener("change", save);
  load();

  return { params };
})();
