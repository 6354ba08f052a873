// Analysis settings of the Upload and Live pages: the face detector (only those the server allows, from
// GET /api/v1/settings), the minimum face score, test-time augmentation and the class balance (among those the
// server offers), remembered in this browser.

import { $ } from "./dom.js";
import { api } from "./common.js";

const KEY = "emolens.settings";
const [detector, minScore, output, tta] = ["detector", "min-score", "min-score-value", "tta"].map($);
const [balance, balanceShown, balanceGroup] = ["class-balance", "class-balance-value", "class-balance-group"].map($);
const serverOnlyHint = $("server-only-hint");
let balances = []; // the class balances offered, increasing; the slider picks an index
let defaultBalance = null;
let detectors = 0; // detectors the server allows
let serverApplies = true; // whether the settings only the server applies (detector, augmentation) can be chosen

function enable() {
  detector.disabled = !serverApplies || detectors < 2;
  tta.disabled = !serverApplies;
  serverOnlyHint.hidden = serverApplies;
}

/** Whether the analysis runs on the server: where it does not (the live page's browser mode), the detector and
 * test-time augmentation cannot be chosen, and the hint says why. */
function onServer(yes) {
  serverApplies = yes;
  enable();
}

function remembered() {
  try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch { return {}; }
}

function save() {
  localStorage.setItem(KEY, JSON.stringify({ detector: detector.value, min_score: minScore.value, tta: tta.checked,
    class_balance: balances[Number(balance.value)] }));
}

function showScore() {
  const value = Number(minScore.value);
  output.textContent = value > 0 ? value.toFixed(2) : "any";
  minScore.setAttribute("aria-valuetext", value > 0 ? `at least ${value.toFixed(2)}` : "any face");
}

/** The chosen class balance, in words. */
function showBalance() {
  const value = balances[Number(balance.value)];
  const { low, high, between } = balance.dataset; // the words are the page's (_settings.html)
  const words = value === balances[0] ? low : value === balances[balances.length - 1] ? high : between;
  balanceShown.textContent = `${words} (${value}${value === defaultBalance ? ", default" : ""})`;
  balance.setAttribute("aria-valuetext", balanceShown.textContent);
}

/** Fill the controls from the server's allowed settings and this browser's last choices. */
async function load() {
  const kept = remembered();
  let allowed = { detectors: [], tta: false };
  try { allowed = await api("/api/v1/settings"); } catch { /* the server's defaults apply */ }
  detector.replaceChildren(...allowed.detectors.map((name, i) => new Option(i ? name : `${name} (default)`, name)));
  if (allowed.detectors.includes(kept.detector)) detector.value = kept.detector;
  detectors = allowed.detectors.length;
  enable();
  minScore.value = kept.min_score ?? "0";
  tta.checked = kept.tta ?? allowed.tta;
  balances = allowed.class_balances || [];
  defaultBalance = allowed.class_balance ?? null;
  const chosen = [kept.class_balance, defaultBalance].map((b) => balances.indexOf(b)).find((i) => i >= 0);
  balance.max = String(Math.max(0, balances.length - 1));
  balance.value = String(chosen ?? 0);
  balanceGroup.hidden = balances.length < 2;
  if (balances.length) showBalance();
  showScore();
}

/** The chosen settings as API parameters (only those that differ from the server's defaults). */
function params() {
  const out = {};
  if (detector.value && detector.selectedIndex > 0) out.detector = detector.value;
  if (Number(minScore.value) > 0) out.min_score = minScore.value;
  out.tta = String(tta.checked);
  const chosen = balances[Number(balance.value)];
  if (balances.length > 1 && chosen !== defaultBalance) out.class_balance = String(chosen);
  return out;
}

minScore.addEventListener("input", showScore);
balance.addEventListener("input", showBalance);
for (const el of [detector, minScore, tta, balance]) el.addEventListener("change", save);
const ready = load(); // resolves once params() gives this browser's last choices

export { params, ready, onServer };
