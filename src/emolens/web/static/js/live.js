// Live page: camera frames, downscaled to JPEG, go to the API one at a time; boxes are drawn over the video.
"use strict";

(() => {
  const { api, drawFaces, pct } = emolens;
  const video = document.getElementById("video");
  const overlay = document.getElementById("overlay");
  const startBtn = document.getElementById("start");
  const stopBtn = document.getElementById("stop");
  const widthSel = document.getElementById("width");
  const status = document.getElementById("status");
  const out = { fps: "fps", latency: "latency", nfaces: "nfaces", top: "top" };
  for (const key of Object.keys(out)) out[key] = document.getElementById(out[key]);
  const grab = document.createElement("canvas");
  const session = `live-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const RUNNING = "Running. Frames are analysed and discarded.";
  let stream = null;
  let running = false;
  let times = [];

  function setStatus(text, error = false) {
    status.textContent = text;
    status.classList.toggle("error", error);
  }

  function frameBlob() {
    const width = Math.min(Number(widthSel.value), video.videoWidth);
    grab.width = width;
    grab.height = Math.round(video.videoHeight * width / video.videoWidth);
    grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
    return new Promise((resolve) => grab.toBlob(resolve, "image/jpeg", 0.8));
  }

  function show(result, rtt) {
    overlay.width = video.videoWidth;
    overlay.height = video.videoHeight;
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    drawFaces(ctx, result.faces, overlay.width / result.width);
    const now = performance.now();
    times.push(now);
    times = times.filter((t) => now - t <= 2000);
    out.fps.textContent = times.length > 1 ? ((times.length - 1) / ((now - times[0]) / 1000)).toFixed(1) : "–";
    out.latency.textContent = `${rtt.toFixed(0)} ms`;
    out.nfaces.textContent = String(result.faces.length);
    const first = result.faces[0];
    out.top.textContent = first ? `${first.emotion} ${pct(first.scores[first.emotion])}` : "no face";
  }

  // One frame in flight at a time; the next frame is captured and encoded while the last one is analysed.
  async function loop() {
    while (running && video.readyState < 2) await new Promise((r) => setTimeout(r, 50));
    let blob = await frameBlob();
    while (running) {
      const sent = performance.now();
      const answer = api(`/api/v1/analyze?source=webcam&session=${session}`, {
        method: "POST", body: blob, headers: { "Content-Type": "image/jpeg" },
      });
      const next = frameBlob();
      try {
        const result = await answer;
        if (running) show(result, performance.now() - sent);
        if (running && status.classList.contains("error")) setStatus(RUNNING);
      } catch (err) {
        // e.g. 503 "storage unavailable": this frame is not counted; say so and retry with the next one.
        setStatus(`Not counted, retrying: ${err.message}`, true);
        await new Promise((r) => setTimeout(r, 1000));
      }
      blob = await next;
    }
  }

  async function start() {
    if (!window.isSecureContext || !navigator.mediaDevices) {
      setStatus("Browsers only give the camera to pages on https or localhost. Open this page on the server "
        + "machine, or serve it over https (emolens serve --certfile ... --keyfile ...).", true);
      return;
    }
    startBtn.disabled = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (err) {
      setStatus(`No camera: ${err.message}`, true);
      startBtn.disabled = false;
      return;
    }
    video.srcObject = stream;
    await video.play();
    running = true;
    stopBtn.disabled = false;
    setStatus(RUNNING);
    loop();
  }

  function stop() {
    running = false;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
    startBtn.disabled = false;
    stopBtn.disabled = true;
    times = [];
    out.fps.textContent = "–";
    setStatus("Stopped.");
    startBtn.focus();
  }

  startBtn.addEventListener("click", start);
  stopBtn.addEventListener("click", stop);
  window.addEventListener("pagehide", stop);
})();
