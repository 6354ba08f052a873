// Shared helpers: the API client (with the optional token) and label colours (from the server: emolens.labels).
"use strict";

const emolens = (() => {
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
    const dialog = document.getElementById("token-dialog");
    const input = document.getElementById("token-input");
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
      try { body = await response.json(); } catch (_) { /* not JSON */ }
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

  function pct(p) { return `${(100 * p).toFixed(0)}%`; }

  /** Draw each face's box, landmarks and "emotion NN%" label in the colour of its emotion, scaled by `scale`. */
  function drawFaces(ctx, faces, scale) {
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

  return { labels, colour, api, apiBlob, explain, pct, drawFaces };
})();
