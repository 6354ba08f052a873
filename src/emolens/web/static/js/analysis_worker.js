// The live page's analysis thread: the browser pipeline (browser_pipeline.js) in a worker, so that the page's own
// thread only takes camera frames and draws. Messages (browser_analyser.js sends them, one frame at a time):
//   {type: "load", info, wasm, model}   -> {type: "ready"} | {type: "error", message}
//   {type: "calibration", calibration}  -> nothing; frames sent later are scored with it
//   {type: "frame", id, image, width?, height?}
//                                       -> {type: "faces", id, faces, classBalance} | {type: "error", id, message}
//      image: an ImageBitmap or a camera VideoFrame (transferred; closed here), drawn at width x height if given
import * as pipeline from "./browser_pipeline.js";

let analyser = null;
let canvas = null;

/** The RGB pixels of an ImageBitmap or VideoFrame (closed afterwards), drawn at ``width`` x ``height`` (its own
 * size when not given). */
function pixels(image, width, height) {
  const w = width || image.displayWidth || image.width;
  const h = height || image.displayHeight || image.height;
  if (!canvas || canvas.width !== w || canvas.height !== h) canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  try {
    ctx.drawImage(image, 0, 0, w, h);
  } finally {
    image.close();
  }
  return pipeline.rgb(ctx.getImageData(0, 0, w, h));
}

addEventListener("message", async ({ data }) => {
  try {
    if (data.type === "load") {
      analyser = await pipeline.create(data.info, data.wasm, new Uint8Array(data.model));
      postMessage({ type: "ready" });
    } else if (data.type === "calibration") {
      analyser.setCalibration(data.calibration);
    } else if (data.type === "frame") {
      const classBalance = analyser.classBalance(); // the calibration analyze() applies
      const faces = await analyser.analyze(pixels(data.image, data.width, data.height));
      postMessage({ type: "faces", id: data.id, faces, classBalance });
    }
  } catch (err) {
    postMessage({ type: "error", id: data.id, message: String(err && err.message ? err.message : err) });
  }
});
