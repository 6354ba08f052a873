// Browser mode's analyser, as the live page uses it: the pipeline (browser_pipeline.js) runs in a worker
// (analysis_worker.js); this side hands it camera frames (VideoFrames) or images (as ImageBitmaps), one at a time, and
// gets the faces back.
import { apiBlob } from "./common.js";

/** Whether this browser can run the pipeline: WebAssembly, module workers and canvases off the page's thread. */
function supported() {
  return typeof WebAssembly === "object" && typeof Worker === "function" && typeof OffscreenCanvas === "function"
    && typeof createImageBitmap === "function";
}

/** The analyser of the model GET /api/v1/model described as ``info``, with ONNX Runtime Web's files at ``wasm``;
 * resolves once the models are loaded and warmed up in the worker, rejects when they cannot run here. */
async function create(info, wasm) {
  const worker = new Worker(new URL("./analysis_worker.js", import.meta.url), { type: "module" });
  const waiting = new Map(); // id -> {resolve, reject} of the frame in the worker (one at a time)
  let nextId = 0;
  let failed = null;

  const ready = new Promise((resolve, reject) => {
    const fail = (message) => {
      failed = new Error(message);
      reject(failed);
      for (const { reject: no } of waiting.values()) no(failed);
      waiting.clear();
    };
    worker.addEventListener("error", (event) => fail(event.message || "the analysis worker did not start"));
    worker.addEventListener("message", ({ data }) => {
      if (data.type === "ready") resolve();
      else if (data.type === "error" && data.id === undefined) fail(data.message);
      else {
        const pending = waiting.get(data.id);
        waiting.delete(data.id);
        if (data.type === "faces") pending.resolve({ faces: data.faces, classBalance: data.classBalance });
        else pending.reject(new Error(data.message));
      }
    });
  });
  // the model file comes through the API (its token, when the server has one); the worker fetches the graphs
  const model = await (await apiBlob(info.url)).arrayBuffer();
  worker.postMessage({ type: "load", info, wasm: new URL(wasm, location.href).href, model }, [model]);
  await ready;

  /** The faces in an image as the API gives them, and the class balance that scored them:
   * ``{faces, classBalance}``. ``source`` is a camera VideoFrame (handed to the worker, which closes it) or
   * anything createImageBitmap takes (the video, an ImageBitmap...); it is drawn at ``width`` x ``height`` when
   * given, else at its own size. */
  async function analyze(source, width, height) {
    const frame = typeof VideoFrame === "function" && source instanceof VideoFrame;
    if (failed) {
      if (frame) source.close();
      throw failed;
    }
    const image = frame ? source : await createImageBitmap(source);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ type: "frame", id, image, width, height }, [image]);
    });
  }

  /** Score later frames with another calibration of the same model (GET /api/v1/model?class_balance=...). */
  function setCalibration(c) {
    worker.postMessage({ type: "calibration", calibration: c });
  }

  return { analyze, setCalibration };
}

export { supported, create };
