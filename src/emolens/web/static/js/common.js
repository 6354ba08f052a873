// Shared helpers: the API client (with the optional token) and label colours (from the server: emolens.labels).
// Faces are drawn on canvas by draw.js.

import { $ } from "./dom.js";

const labels = JSON.parse(document.body.dataset.labels || "[]");
const COLOURS = JSON.parse(document.body.dataset.colours || "{}");
const UNKNOWN = "#94a3b8";
const TOKEN_KEY = "emolens.token";

/** The label's colour: the model's labels and the well-known emotions have one; anything else is grey. */
function colour(label) {
  return COLOURS[label] || UNKNOWN;
}

let asking = null;

/** Ask for the API token once, however many requests got a 401 meanwhile; true when one was given. */
function askToken() {
  if (asking) return asking;
  const dialog = $("token-dialog");
  const input = $("token-input");
  asking = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "ok" && input.value;
      if (ok) sessionStorage.setItem(TOKEN_KEY, input.value);
      asking = null;
      resolve(Boolean(ok));
    }, { once: true });
    dialog.showModal();
  });
  return asking;
}

/** fetch() an API path, asking for the token once on a 401; the Response, or an Error with the server's message. */
async function request(path, options = {}, retry = true) {
  const headers = new Headers(options.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && retry && await askToken()) return request(path, options, false);
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch { /* not JSON */ }
    const err = new Error((body && body.error) || `${response.status} ${response.statusText}`);
    err.status = response.status;
    throw err;
  }
  return response;
}

/** The JSON answer of an API path. */
async function api(path, options = {}) {
  return (await request(path, options)).json();
}

/** The answer of an API path as a Blob (e.g. a CSV export). */
async function apiBlob(path) {
  return (await request(path)).blob();
}

/** What went wrong, in words for the person at the page (the server's own message where it is meant for them). */
function explain(err) {
  const status = err.status || 0;
  if (!status) return "The server could not be reached. Check that it is running and your connection, then retry.";
  if (status === 401) return "This server needs an API token. Retry to enter it.";
  if (status === 413) return "This file is larger than the server accepts.";
  if (status === 503 || status === 408) return "The server is busy or its storage is unavailable. Retry in a moment.";
  if (status >= 500) return "The server failed on this request. Retry, or tell whoever runs it.";
  return `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}`;
}

/** A probability as a whole percentage. */
function pct(p) { return `${(100 * p).toFixed(0)}%`; }

export { labels, colour, api, apiBlob, explain, pct };
