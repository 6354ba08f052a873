// The analysis pipeline on ONNX Runtime Web (WebAssembly with SIMD; threads only where the page is cross-origin
// isolated): BlazeFace short-range on the whole frame, the eyes levelled and the face cropped with the model's
// framing, then the emotion model with its preprocessing and calibration. Everything about the model (labels, input
// contract, calibration, file addresses) comes from GET /api/v1/model, so any emolens model works. The live page runs
// it in a worker (analysis_worker.js, driven through browser_analyser.js), off the page's own thread.
// The ONNX graphs hold the input scaling, box decoding, normalisation and calibration (tools/
// build_browser_graphs.py); JavaScript keeps the resampling (resample.js) and the weighted merge of boxes. It mirrors
// emolens.faces.blazeface (BlazeFaceModel.candidates, merge), emolens.faces.align.crop_face and
// emolens.emotion.preprocessing.resize_face; tests/web/test_live_browser.py holds the two to the same results.
import * as ort from "../vendor/onnxruntime-web/ort.wasm.min.mjs";
import * as R from "./resample.js";

export const { create, rgb } = (() => {
  const MAX_CROP_SIDE = 256; // emolens.faces.align.MAX_CROP_SIDE

  /** Intersection over union of two [x0, y0, x1, y1] boxes. */
  function iou(a, b) {
    const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
    const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
    const inter = w * h;
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + 1e-9);
  }

  /** emolens.faces.blazeface.weighted_nms and merge: clusters of overlapping boxes become their score-weighted
   * mean with the best score; boxes with less than a pixel inside the image are dropped. */
  function merge(found, width, height, threshold) {
    const order = found.map((_, i) => i).sort((i, j) => found[j].score - found[i].score);
    const left = new Array(found.length).fill(true);
    const faces = [];
    for (const i of order) {
      if (!left[i]) continue;
      const cluster = order.filter((j) => left[j] && iou(found[i].box, found[j].box) > threshold);
      const total = cluster.reduce((s, j) => s + found[j].score, 0);
      const box = [0, 0, 0, 0];
      const points = new Array(12).fill(0);
      for (const j of cluster) {
        const w = found[j].score / total;
        found[j].box.forEach((v, k) => { box[k] += w * v; });
        found[j].points.forEach((v, k) => { points[k] += w * v; });
        left[j] = false;
      }
      const x0 = Math.min(Math.max(box[0], 0), width); const x1 = Math.min(Math.max(box[2], 0), width);
      const y0 = Math.min(Math.max(box[1], 0), height); const y1 = Math.min(Math.max(box[3], 0), height);
      if (x1 - x0 >= 1 && y1 - y0 >= 1) {
        faces.push({ box: [box[0], box[1], box[2] - box[0], box[3] - box[1]], score: found[i].score,
          landmarks: Array.from({ length: 6 }, (_, k) => [points[2 * k], points[2 * k + 1]]) });
      }
    }
    return faces;
  }

  /** emolens.faces.align.crop_face: the square crop around a face, eyes level, with the model's margin. */
  function crop(img, face, margin) {
    const [x, y, w, h] = face.box;
    const side = Math.max(w, h) * (1 + 2 * margin);
    const out = Math.trunc(Math.max(1, Math.min(MAX_CROP_SIDE, R.roundEven(side))));
    let scale = out / side;
    const half = Math.trunc(Math.ceil(side * 0.75)) + 1;
    let cx = x + w / 2; let cy = y + h / 2;
    const x0 = Math.min(Math.max(0, Math.trunc(cx) - half), img.width - 1);
    const y0 = Math.min(Math.max(0, Math.trunc(cy) - half), img.height - 1);
    const x1 = Math.min(img.width, Math.max(x0 + 1, Math.trunc(cx) + half));
    const y1 = Math.min(img.height, Math.max(y0 + 1, Math.trunc(cy) + half));
    let region = R.region(img, x0, y0, x1, y1);
    cx -= x0; cy -= y0;
    if (scale < 0.5) { // shrink the region first with area averaging: the warp alone would alias
      const sw = Math.max(1, R.roundEven(region.width * scale * 2));
      const sh = Math.max(1, R.roundEven(region.height * scale * 2));
      cx = cx * sw / region.width; cy = cy * sh / region.height;
      region = R.area(region, sw, sh);
      scale = 0.5;
    }
    const [[ex0, ey0], [ex1, ey1]] = face.landmarks;
    // emolens.faces.align.eye_angle in degrees, then back to radians as cv2.getRotationMatrix2D does
    const angle = ((Math.atan2(ey1 - ey0, ex1 - ex0) * 180) / Math.PI) * (Math.PI / 180);
    const a = Math.cos(angle) * scale; const b = Math.sin(angle) * scale;
    const m = [a, b, ((1 - a) * cx - b * cy) + (out / 2 - cx), -b, a, (b * cx + (1 - a) * cy) + (out / 2 - cy)];
    return R.warpAffine(region, m, out);
  }

  /** emolens.emotion.preprocessing.resize_face: the model's colour, the training faces' detail, the input size. */
  function resizeFace(face, prep) {
    let img = prep.color === "gray" ? R.grey(face) : face;
    if (prep.source_size > 0 && prep.source_size < Math.max(img.width, img.height)) {
      img = R.area(img, prep.source_size, prep.source_size);
    }
    if (img.width !== prep.input_size || img.height !== prep.input_size) {
      const shrinking = img.width > prep.input_size || img.height > prep.input_size;
      img = (shrinking ? R.area : R.linear)(img, prep.input_size, prep.input_size);
    }
    return img;
  }

  const scalar = (v) => new ort.Tensor("float32", Float32Array.from([v]), [1]);

  /** The pipeline for a model described by GET /api/v1/model (``model``: the bytes of its file, which needs the API
   * token; the graphs are static files), with ONNX Runtime Web's files at ``wasmPath``; loaded and warmed up before
   * it resolves. */
  async function create(info, wasmPath, model) {
    ort.env.wasm.wasmPaths = wasmPath;
    ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    const options = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
    const [detector, prepare, classifier, calibrate] = await Promise.all(
      [info.detector.url, info.graphs.input, model, info.graphs.calibration]
        .map((source) => ort.InferenceSession.create(source, options)));
    const det = info.detector;
    const prep = info.preprocessing;
    let calibration; // the bias and temperature tensors applied, and the class balance they are for
    /** Apply another calibration of the same model (GET /api/v1/model?class_balance=...): no model is reloaded. */
    function setCalibration(c) {
      calibration = { bias: new ort.Tensor("float32", Float32Array.from(c.bias), [info.labels.length]),
        temperature: scalar(c.temperature), classBalance: c.class_balance };
    }
    setCalibration(info.calibration);
    const [mean, std] = [scalar(prep.mean), scalar(prep.std)];

    /** emolens.faces.blazeface.BlazeFaceModel.candidates (native square input, no border). */
    async function detect(img) {
      const size = det.input_size;
      const scale = Math.min(size / img.height, size / img.width);
      const h = Math.max(1, R.roundEven(img.height * scale)); const w = Math.max(1, R.roundEven(img.width * scale));
      const small = R.shrink(img, w, h);
      const pixels = new Float32Array(size * size * 3);
      for (let y = 0; y < h; y += 1) {
        for (let i = 0; i < w * 3; i += 1) pixels[y * size * 3 + i] = small.data[y * w * 3 + i];
      }
      const out = await detector.run({ pixels: new ort.Tensor("float32", pixels, [1, size, size, 3]) });
      const [boxes, scores, points] = [out.boxes.data, out.scores.data, out.points.data];
      const found = [];
      for (let i = 0; i < scores.length; i += 1) {
        if (scores[i] < det.min_score) continue;
        found.push({ score: scores[i], box: Array.from(boxes.subarray(4 * i, 4 * i + 4), (v) => v / scale),
          points: Array.from(points.subarray(12 * i, 12 * i + 12), (v) => v / scale) });
      }
      return found.length ? merge(found, img.width, img.height, det.iou_threshold) : [];
    }

    /** Calibrated probabilities (one array per crop) of uint8 crops at the model's input size. */
    async function classify(crops, { bias, temperature } = calibration) {
      const s = prep.input_size;
      const c = crops[0].channels;
      const batch = new Float32Array(crops.length * s * s * c);
      crops.forEach((img, i) => batch.set(img.data, i * s * s * c));
      const { input } = await prepare.run({ crops: new ort.Tensor("float32", batch, [crops.length, s, s, c]), mean,
        std });
      const probs = Object.values(await classifier.run({ [classifier.inputNames[0]]: input }))[0];
      const { scores } = await calibrate.run({ probabilities: probs, bias, temperature });
      const n = info.labels.length;
      return crops.map((_, i) => scores.data.subarray(i * n, (i + 1) * n));
    }

    /** Every face in an RGB image with its emotion, as the API's faces (box rounded, landmarks, scores), scored
     * with the calibration applied when it was called (classBalance() then says which). */
    async function analyze(img) {
      const applied = calibration;
      const found = await detect(img);
      if (!found.length) return [];
      const probs = await classify(found.map((f) => resizeFace(crop(img, f, prep.crop_margin), prep)), applied);
      return found.map((f, i) => {
        const scores = Object.fromEntries(info.labels.map((label, k) => [label, probs[i][k]]));
        const emotion = info.labels.reduce((a, b) => (scores[b] > scores[a] ? b : a));
        return { box: f.box.map(R.roundEven), landmarks: f.landmarks, emotion, scores,
          detection_score: f.score, track_id: null };
      });
    }

    // warm-up: the first run of a session allocates and plans; do it before the first camera frame
    const blank = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48, channels: 3 };
    await detect(blank);
    const c = prep.color === "gray" ? 1 : 3;
    await classify([{ data: new Uint8Array(prep.input_size ** 2 * c), width: prep.input_size,
      height: prep.input_size, channels: c }]);
    return { analyze, setCalibration, classBalance: () => calibration.classBalance };
  }

  /** RGB pixels of canvas ImageData (alpha dropped). */
  function rgb(imageData) {
    const { data, width, height } = imageData;
    const out = new Uint8Array(width * height * 3);
    for (let i = 0, j = 0; i < data.length; i += 4, j += 3) {
      out[j] = data[i]; out[j + 1] = data[i + 1]; out[j + 2] = data[i + 2];
    }
    return { data: out, width, height, channels: 3 };
  }

  return { create, rgb };
})();
