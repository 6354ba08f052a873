// Live page: camera frames, downscaled to JPEG, go to the API one at a time; boxes are drawn over the video.
// When the server fails, the boxes go (they would be stale) and the page reconnects with backoff; screen readers
// hear the emotions at most every 2 s.
"use strict";

(() => {
  const { api, explain, drawFaces, pct, labels } = emolens;
  const $ = (id) => document.getElementById(id);
  const [video, overlay, stage, startBtn, stopBtn, widthSel, mirror, status, announce] =
    ["video", "overlay", "stage", "start", "stop", "width", "mirror", "status", "announce"].map($);
  const out = { fps: $("fps"), latency: $("latency"), nfaces: $("nfaces"), top: $("top") };
  const grab = document.createElement("canvas");
  const tracker = emolensTracker.create();
  const timeline = emolensTimeline.create($("timeline"));
  const session = `live-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const RUNNING = "Running. Frames are analysed and discarded.";
  const ANNOUNCE_MS = 2000;
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
  let stream = null;
  let running = false;
  let times = [];
  let failures = 0;
  let lastAnnounced = 0;

  /** Status text, optionally followed by a link (e.g. to the Upload page). */
  function setStatus(text, error = false, link = null) {
    status.replaceChildren(text);
    if (link) {
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      status.append(" ", a, ".");
    }
    status.classList.toggle("error", error);
  }

  function clearOverlay() {
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
  }

  function resetMetrics() {
    for (const el of Object.values(out)) el.textContent = "–";
    times = [];
  }

  function frameBlob() {
    const width = Math.min(Number(widthSel.value), video.videoWidth);
    grab.width = width;
    grab.height = Math.round(video.videoHeight * width / video.videoWidth);
    grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
    return new Promise((resolve) => grab.toBlob(resolve, "image/jpeg", 0.8));
  }

  /** The faces as seen in the mirrored video: boxes and landmarks flipped, so labels stay readable. */
  function mirrored(faces, width) {
    return faces.map((f) => ({
      ...f,
      box: [width - f.box[0] - f.box[2], f.box[1], f.box[2], f.box[3]],
      landmarks: (f.landmarks || []).map(([x, y]) => [width - x, y]),
    }));
  }

  /** "#1 <label> 95%, #2 <label> 60%": every tracked face's smoothed top emotion, by track id. */
  function emotions(faces) {
    return [...faces].sort((a, b) => a.track_id - b.track_id)
      .map((f) => `#${f.track_id} ${f.emotion} ${pct(f.scores[f.emotion])}`).join(", ");
  }

  function show(result, rtt) {
    overlay.width = video.videoWidth;
    overlay.height = video.videoHeight;
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    const now = performance.now();
    const tracked = tracker.update(result.faces, now / 1000);
    timeline.push(tracked, now / 1000);
    drawFaces(ctx, mirror.checked ? mirrored(tracked, result.width) : tracked, overlay.width / result.width);
    times.push(now);
    times = times.filter((t) => now - t <= 2000);
    out.fps.textContent = times.length > 1 ? ((times.length - 1) / ((now - times[0]) / 1000)).toFixed(1) : "–";
    out.latency.textContent = `${rtt.toFixed(0)} ms`;
    out.nfaces.textContent = String(result.faces.length);
    out.top.textContent = tracked.length ? emotions(tracked) : "no face";
    if (now - lastAnnounced >= ANNOUNCE_MS) {
      lastAnnounced = now;
      const n = result.faces.length;
      const text = n ? `${n} face${n === 1 ? "" : "s"}: ${out.top.textContent}` : "No face";
      if (announce.textContent !== text) announce.textContent = text;
    }
  }

  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

  // One frame in flight at a time; the next frame is captured and encoded while the last one is analysed.
  async function loop() {
    while (running && video.readyState < 2) await sleep(50);
    let blob = await frameBlob();
    while (running) {
      const sent = performance.now();
      const settings = new URLSearchParams({ source: "webcam", session, ...emolensSettings.params() });
      const answer = api(`/api/v1/analyze?${settings}`, {
        method: "POST", body: blob, headers: { "Content-Type": "image/jpeg" },
      });
      const next = frameBlob();
      try {
        const result = await answer;
        if (running) show(result, performance.now() - sent);
        if (running && failures) setStatus(RUNNING);
        failures = 0;
      } catch (err) {
        // Not counted: clear what would now be stale, say so, and try again a little later each time.
        const wait = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)];
        failures += 1;
        if (!running) break;
        clearOverlay();
        out.nfaces.textContent = "–";
        out.top.textContent = "–";
        setStatus(`Reconnecting (retry in ${(wait / 1000).toFixed(1)} s): ${explain(err)}`, true);
        await sleep(wait);
      }
      blob = await next;
    }
  }

  function cameraProblem(err) {
    const upload = { href: "/", text: "Analyse photos on the Upload page instead" };
    if (err.name === "NotAllowedError" || err.name === "SecurityError") {
      setStatus("Camera access was denied. Allow the camera for this site (the camera icon in the address bar), "
        + "then press Start camera again.", true, upload);
    } else if (err.name === "NotFoundError" || err.name === "OverconstrainedError") {
      setStatus("No camera was found. Connect one and press Start camera again.", true, upload);
    } else if (err.name === "NotReadableError") {
      setStatus("The camera is in use by another application. Close it and press Start camera again.", true, upload);
    } else {
      setStatus(`The camera could not start (${err.name}).`, true, upload);
    }
  }

  async function start() {
    if (!window.isSecureContext || !navigator.mediaDevices) {
      setStatus("Browsers only give the camera to pages on https or localhost. Open this page on the server "
        + "machine, or serve it over https (emolens serve --certfile ... --keyfile ...).", true,
      { href: "/", text: "Or analyse photos on the Upload page" });
      return;
    }
    startBtn.disabled = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
      });
    } catch (err) {
      cameraProblem(err);
      startBtn.disabled = false;
      return;
    }
    video.srcObject = stream;
    await video.play();
    running = true;
    failures = 0;
    stage.classList.add("on");
    stopBtn.disabled = false;
    setStatus(RUNNING);
    loop();
  }

  function stop() {
    running = false;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    stage.classList.remove("on");
    clearOverlay();
    resetMetrics();
    tracker.reset();
    timeline.clear();
    announce.textContent = "";
    startBtn.disabled = false;
    stopBtn.disabled = true;
    setStatus("Stopped.", false, { href: `/dashboard?session=${session}`, text: "See this session on the dashboard" });
    startBtn.focus();
  }

  emolensTimeline.legend($("legend"), labels);
  mirror.addEventListener("change", () => stage.classList.toggle("mirrored", mirror.checked));
  startBtn.addEventListener("click", start);
  stopBtn.addEventListener("click", stop);
  window.addEventListener("pagehide", () => { if (running) stop(); });
})();
