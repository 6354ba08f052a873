// Live page, in one of two modes (the control #mode):
// - browser (the default where it works): camera frames are analysed here with ONNX Runtime Web, in a worker
//   (browser_analyser.js); only results (emotions and scores, JSON) go to the server, every 2 seconds, while
//   "Record" is on. Frames are taken as the camera gives them (MediaStreamTrackProcessor, else
//   requestVideoFrameCallback), one in the worker at a time: a frame that arrives meanwhile is analysed as soon as
//   the worker is free (only the newest), so no frame waits behind another and none is awaited needlessly. The calibration is the server's for the class balance
//   chosen in the settings (fetched again when it changes), and each post says which class balance scored its
//   results. The detector and test-time augmentation settings apply only on the server.
// - server: frames, downscaled to JPEG, go to the API one at a time. When the server fails, the boxes go (they
//   would be stale) and the page reconnects with backoff.
// Both draw boxes over the video through the same tracker and timeline; screen readers hear the emotions at most
// every 2 s.
import { $ } from "./dom.js";
import { api, explain, pct, labels } from "./common.js";
import { drawFaces } from "./draw.js";
import * as BrowserAnalyser from "./browser_analyser.js";
import * as Settings from "./settings.js";
import * as Tracker from "./tracker.js";
import * as Timeline from "./timeline.js";

{
  const [video, overlay, stage, startBtn, stopBtn, widthSel, mirror, status, announce, modeSel, record, privacy] =
    ["video", "overlay", "stage", "start", "stop", "width", "mirror", "status", "announce", "mode", "record",
      "privacy"].map($);
  const out = { fps: $("fps"), latency: $("latency"), nfaces: $("nfaces"), top: $("top") };
  const grab = document.createElement("canvas");
  const tracker = Tracker.create(JSON.parse(stage.dataset.tracking)); // pipeline/tracking.py TRACKING
  const timeline = Timeline.create($("timeline"));
  const session = `live-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const RUNNING = "Running. Frames are analysed and discarded.";
  const RUNNING_HERE = "Running in this browser. Frames are analysed here and never sent.";
  const POST_MS = 2000; // the dashboard polls every 5 s and stores 10 s windows
  const MAX_POST_FRAMES = 120; // schemas.MAX_LIVE_FRAMES
  const MAX_POST_FACES = 1000; // schemas.MAX_LIVE_FACES
  const MAX_FRAME_FACES = 32; // browser.MAX_FACES_PER_FRAME
  const ANNOUNCE_MS = 2000;
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
  let stream = null;
  let running = false;
  let times = [];
  let failures = 0;
  let lastAnnounced = 0;
  let pipeline = null; // a promise of the browser pipeline, loaded when browser mode is chosen
  let pending = { frames: 0, ms: 0, faces: [], class_balance: null };
  let calibrations = 0; // calibration requests made: only the latest one is applied
  let poster = null;
  let loops = 0; // browser loops started: a loop that is no longer the latest stops (after Stop, then Start)

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

  /** The size frames are analysed at: the chosen width, the video's shape. */
  function frameSize() {
    const width = Math.min(Number(widthSel.value), video.videoWidth);
    return { width, height: Math.round(video.videoHeight * width / video.videoWidth) };
  }

  /** The current video frame as a JPEG at the chosen width. */
  function frameBlob() {
    ({ width: grab.width, height: grab.height } = frameSize());
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
      const settings = new URLSearchParams({ source: "webcam", session, ...Settings.params() });
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

  /** The model description, with the calibration of the class balance chosen in the settings. */
  async function describeModel() {
    await Settings.ready;
    const balance = Settings.params().class_balance; // absent: the server's default
    return api(`/api/v1/model?${new URLSearchParams(balance === undefined ? {} : { class_balance: balance })}`);
  }

  /** Load the browser pipeline once (model description from the server, then the models, warmed up). */
  function loadPipeline() {
    if (!pipeline) {
      pipeline = describeModel().then((info) => BrowserAnalyser.create(info, modeSel.dataset.wasm));
      pipeline.catch(() => { pipeline = null; }); // a later choice of browser mode tries again
    }
    return pipeline;
  }

  /** Apply the calibration of the class balance now chosen to the loaded pipeline (the models stay loaded). */
  async function recalibrate() {
    const loading = pipeline;
    if (!loading) return; // a pipeline loaded later asks for the balance chosen then
    const mine = ++calibrations;
    let info;
    try {
      info = await describeModel();
    } catch (err) {
      setStatus(`The class balance could not be applied: ${explain(err)}`, true);
      return;
    }
    const analyser = await loading.catch(() => null);
    if (analyser && mine === calibrations) analyser.setCalibration(info.calibration);
  }

  /** Results of one analysed frame, scored with ``classBalance``, queued for the next post (only while
   * recording); a post holds one class balance, so queued results of another are posted first. */
  function queue(faces, ms, classBalance) {
    if (!record.checked) return;
    if (pending.frames && pending.class_balance !== classBalance) post();
    pending.class_balance = classBalance;
    pending.frames += 1;
    pending.ms += ms;
    for (const f of faces.slice(0, MAX_FRAME_FACES)) pending.faces.push({ emotion: f.emotion, scores: f.scores });
    if (pending.frames >= MAX_POST_FRAMES || pending.faces.length > MAX_POST_FACES - MAX_FRAME_FACES) post();
  }

  /** Post the queued results: JSON, no image. A failed post is dropped and said. */
  async function post() {
    if (!pending.frames) return;
    const body = { session, frames: pending.frames, elapsed_ms: pending.ms / pending.frames, faces: pending.faces,
      class_balance: pending.class_balance };
    pending = { frames: 0, ms: 0, faces: [], class_balance: null };
    try {
      await api("/api/v1/live/results", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (running && status.classList.contains("error")) setStatus(RUNNING_HERE);
    } catch (err) {
      if (running) setStatus(`Analysing in this browser, but results are not recorded: ${explain(err)}`, true);
    }
  }

  function nextFrame(step) {
    if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback(step);
    else requestAnimationFrame(step);
  }

  /** Calls ``arrived`` with each new camera frame: a VideoFrame straight from the camera where the browser has
   * MediaStreamTrackProcessor (every frame the camera gives), else the video element each time it shows a new
   * frame (requestVideoFrameCallback, which may skip frames when the page is busy). Stops when ``live()`` is
   * false. */
  function cameraFrames(live, arrived) {
    if (typeof MediaStreamTrackProcessor === "function") {
      const reader = new MediaStreamTrackProcessor({ track: stream.getVideoTracks()[0] }).readable.getReader();
      (async () => {
        for (;;) {
          const { value, done } = await reader.read().catch(() => ({ done: true }));
          if (done) return;
          if (!live()) { value.close(); reader.cancel(); return; }
          arrived(value);
        }
      })();
      return;
    }
    const step = () => {
      if (!live()) return;
      nextFrame(step);
      arrived(video);
    };
    nextFrame(step);
  }

  /** Camera frames analysed in this browser as fast as the worker allows, each at most once: a frame that
   * arrives while the worker is busy waits (only the newest), and is analysed as soon as the worker is free. */
  async function browserLoop(analyser) {
    const minScore = () => Number(Settings.params().min_score || 0);
    const mine = ++loops;
    const live = () => running && mine === loops;
    const drop = (frame) => { if (frame && frame !== video) frame.close(); };
    let busy = false;
    let newest = null; // the newest frame that arrived while the worker was busy
    const analyse = async (frame) => {
      busy = true;
      const started = performance.now();
      const { width, height } = frameSize();
      let result;
      try {
        result = await analyser.analyze(frame, width, height);
      } catch (err) {
        drop(newest);
        newest = null;
        if (live()) { fallBack(err); loop(); }
        return;
      } finally {
        busy = false;
      }
      if (!live()) { drop(newest); newest = null; return; }
      const faces = result.faces.filter((f) => f.detection_score >= minScore());
      const ms = performance.now() - started;
      show({ faces, width }, ms);
      queue(faces, ms, result.classBalance);
      const next = newest;
      newest = null;
      if (next) analyse(next);
    };
    const arrived = (frame) => {
      if (!busy) analyse(frame);
      else {
        if (newest !== frame) drop(newest);
        newest = frame;
      }
    };
    while (running && video.readyState < 2) await sleep(50);
    poster = setInterval(post, POST_MS);
    cameraFrames(live, arrived);
  }

  /** Start analysing in the chosen mode; browser mode falls back to the server when it cannot run here. */
  async function run() {
    if (modeSel.value === "browser") {
      try {
        const analyser = await loadPipeline();
        if (!running) return;
        setStatus(RUNNING_HERE);
        browserLoop(analyser);
        return;
      } catch (err) {
        fallBack(err);
        loop();
        return;
      }
    }
    setStatus(RUNNING);
    loop();
  }

  /** Say why the browser cannot analyse, and switch to the server. */
  function fallBack(err) {
    modeSel.value = "server";
    showPrivacy();
    setStatus(`This browser cannot run the models (${err.message || err}); frames are analysed on the server `
      + "instead, as the notice above says.", true);
  }

  /** The privacy notice and the settings that apply in the chosen mode. */
  function showPrivacy() {
    privacy.textContent = privacy.dataset[modeSel.value];
    record.disabled = modeSel.value !== "browser";
    Settings.onServer(modeSel.value === "server");
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
    modeSel.disabled = true;
    setStatus(modeSel.value === "browser" ? "Loading the models…" : RUNNING);
    run();
  }

  function stop() {
    running = false;
    clearInterval(poster);
    post();
    modeSel.disabled = false;
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

  $("class-balance").addEventListener("change", recalibrate);
  modeSel.addEventListener("change", () => {
    showPrivacy();
    if (modeSel.value === "browser") loadPipeline().catch(fallBack);
  });
  if (!BrowserAnalyser.supported()) {
    fallBack(new Error("no WebAssembly"));
  } else {
    showPrivacy();
    loadPipeline().catch(fallBack); // download, compile and warm up before the camera starts
  }
  Timeline.legend($("legend"), labels);
  mirror.addEventListener("change", () => stage.classList.toggle("mirrored", mirror.checked));
  startBtn.addEventListener("click", start);
  stopBtn.addEventListener("click", stop);
  window.addEventListener("pagehide", () => { if (running) stop(); });
}
