// Pixel resampling as OpenCV does it on uint8 images, for the live page's browser mode: the same pixels reach the
// models in the browser as in Python (emolens.faces.blazeface.shrink, emolens.faces.align.crop_face,
// emolens.emotion.preprocessing.resize_face). Images are {data: Uint8Array, width, height, channels}, interleaved.
// Bilinear resizing is bit-exact; area averaging and the warp may differ from OpenCV by one grey level on a few
// pixels (float rounding), which the parity test (tests/web/test_live_browser.py) bounds at the models' outputs.

/** Python's round(): halves to even (OpenCV's cvRound does the same). */
function roundEven(x) {
  const r = Math.round(x);
  return (r - x === 0.5 && r % 2 !== 0) ? r - 1 : r;
}

const tables = new Map();

/** `make(size, out)`, computed once per kind and sizes (frames keep their size). */
function cached(make, size, out) {
  const key = `${make.name} ${size} ${out}`;
  if (!tables.has(key)) tables.set(key, make(size, out));
  return tables.get(key);
}

/** OpenCV's INTER_AREA table for one axis (computeResizeAreaTab): [[source index, weight], ...] per output. */
function areaTable(size, out) {
  const scale = size / out;
  return Array.from({ length: out }, (_, d) => {
    const f1 = d * scale;
    const f2 = f1 + scale;
    const cell = Math.min(scale, size - f1);
    let s2 = Math.min(Math.floor(f2), size - 1);
    const s1 = Math.min(Math.ceil(f1), s2);
    const row = [];
    if (s1 - f1 > 1e-3) row.push([s1 - 1, (s1 - f1) / cell]);
    for (let s = s1; s < s2; s += 1) row.push([s, 1 / cell]);
    if (f2 - s2 > 1e-3) row.push([s2, Math.min(Math.min(f2 - s2, 1), cell) / cell]);
    return row;
  });
}

/** OpenCV's INTER_LINEAR weights for one axis, as it computes them for uint8: half-pixel centres in float32,
 * edges repeated, weights in units of 1/2048. */
function linearTable(size, out) {
  const scale = 1 / (out / size);
  return Array.from({ length: out }, (_, d) => {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) { s = 0; f = 0; }
    if (s >= size - 1) { s = size - 1; f = 0; }
    return [[s, roundEven(Math.fround(1 - f) * 2048)], [Math.min(s + 1, size - 1), roundEven(f * 2048)]];
  });
}

/** cv2.resize(img, (width, height), INTER_LINEAR) on uint8, bit-exact: integer rows, then OpenCV's vectorised
 * vertical step ((w0 * (r0 >> 4)) >> 16 + (w1 * (r1 >> 4)) >> 16 + 2) >> 2. */
function linear(img, width, height) {
  if (img.width === width && img.height === height) return img;
  const tx = cached(linearTable, img.width, width); const ty = cached(linearTable, img.height, height);
  const { data, channels: c } = img;
  const rows = new Int32Array(img.height * width * c);
  for (let x = 0; x < width; x += 1) {
    const [[s0, w0], [s1, w1]] = tx[x];
    for (let y = 0; y < img.height; y += 1) {
      const base = y * img.width * c;
      for (let k = 0; k < c; k += 1) {
        rows[(y * width + x) * c + k] = w0 * data[base + s0 * c + k] + w1 * data[base + s1 * c + k];
      }
    }
  }
  const out = new Uint8Array(width * height * c);
  for (let y = 0; y < height; y += 1) {
    const [[r0, w0], [r1, w1]] = ty[y];
    for (let i = 0; i < width * c; i += 1) {
      const v = (((w0 * (rows[r0 * width * c + i] >> 4)) >> 16) + ((w1 * (rows[r1 * width * c + i] >> 4)) >> 16)
        + 2) >> 2;
      out[y * width * c + i] = Math.min(255, Math.max(0, v));
    }
  }
  return { data: out, width, height, channels: c };
}

/** A separable resize with per-axis tables; each output rounded as `round` says. */
function separable(img, width, height, tx, ty, round) {
  const { data, channels: c } = img;
  const rows = new Float64Array(img.height * width * c);
  for (let y = 0; y < img.height; y += 1) {
    const src = y * img.width * c;
    for (let x = 0; x < width; x += 1) {
      const dst = (y * width + x) * c;
      for (const [s, w] of tx[x]) {
        for (let k = 0; k < c; k += 1) rows[dst + k] += w * data[src + s * c + k];
      }
    }
  }
  const out = new Uint8Array(width * height * c);
  const acc = new Float64Array(width * c);
  for (let y = 0; y < height; y += 1) {
    acc.fill(0);
    for (const [s, w] of ty[y]) {
      const src = s * width * c;
      for (let i = 0; i < width * c; i += 1) acc[i] += w * rows[src + i];
    }
    for (let i = 0; i < width * c; i += 1) out[y * width * c + i] = Math.min(255, Math.max(0, round(acc[i])));
  }
  return { data: out, width, height, channels: c };
}

const halfUp = (v) => Math.floor(v + 0.5);

/** cv2.resize(img, (width, height), INTER_AREA): integer factors average blocks (rounding halves up, as
 * OpenCV's fast path does), other factors weigh pixels by overlap (rounding halves to even). */
function area(img, width, height) {
  if (img.width === 2 * width && img.height === 2 * height) return halve(img);
  const fast = img.width % width === 0 && img.height % height === 0;
  return separable(img, width, height, cached(areaTable, img.width, width), cached(areaTable, img.height, height),
    fast ? halfUp : roundEven);
}

/** Exactly half the size: each 2x2 block's mean, halves rounded up (OpenCV's fast path). */
function halve(img) {
  const { data, channels: c } = img;
  const width = img.width / 2; const height = img.height / 2;
  const out = new Uint8Array(width * height * c);
  const stride = img.width * c;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const src = 2 * y * stride + 2 * x * c;
      for (let k = 0; k < c; k += 1) {
        const p = src + k;
        out[(y * width + x) * c + k] = (data[p] + data[p + c] + data[p + stride] + data[p + stride + c] + 2) >> 2;
      }
    }
  }
  return { data: out, width, height, channels: c };
}

/** emolens.faces.blazeface.shrink: halved with area averaging while that stays larger, then area-averaged, or
 * bilinear from 3/4 on. */
function shrink(img, width, height) {
  let cur = img;
  while (cur.width >= 2 * width && cur.height >= 2 * height) {
    cur = area(cur, Math.floor(cur.width / 2), Math.floor(cur.height / 2));
  }
  const bilinear = width >= 0.75 * cur.width && height >= 0.75 * cur.height;
  return bilinear ? linear(cur, width, height) : area(cur, width, height);
}

/** RGB to grey with OpenCV's fixed-point weights (cv2.COLOR_BGR2GRAY on uint8), exactly. */
function grey(img) {
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 1) {
    const p = 3 * i;
    out[i] = (img.data[p] * 4899 + img.data[p + 1] * 9617 + img.data[p + 2] * 1868 + 8192) >> 14;
  }
  return { data: out, width: img.width, height: img.height, channels: 1 };
}

/** A window [x0, x1) x [y0, y1) of an image (a copy). */
function region(img, x0, y0, x1, y1) {
  const c = img.channels;
  const width = x1 - x0;
  const out = new Uint8Array(width * (y1 - y0) * c);
  for (let y = y0; y < y1; y += 1) {
    out.set(img.data.subarray((y * img.width + x0) * c, (y * img.width + x1) * c), (y - y0) * width * c);
  }
  return { data: out, width, height: y1 - y0, channels: c };
}

/** cv2.warpAffine(img, m, (size, size), INTER_LINEAR, BORDER_REPLICATE) on uint8, m a 2x3 row-major forward
 * matrix, bit-exact: source positions in 1/32 pixel steps as OpenCV computes them, so that the weights (multiples
 * of 1/1024) and their rounded sum are exact. */
function warpAffine(img, m, size) {
  const [a, b, c0, d, e, f] = m;
  let det = a * e - b * d;
  det = det ? 1 / det : 0;
  const i11 = e * det; const i12 = -b * det; const i21 = -d * det; const i22 = a * det;
  const j1 = -i11 * c0 - i12 * f; const j2 = -i21 * c0 - i22 * f;
  const { data, width, height, channels: ch } = img;
  const out = new Uint8Array(size * size * ch);
  const dx = Array.from({ length: size }, (_, x) => [roundEven(i11 * x * 1024), roundEven(i21 * x * 1024)]);
  for (let y = 0; y < size; y += 1) {
    const rx = roundEven((i12 * y + j1) * 1024) + 16;
    const ry = roundEven((i22 * y + j2) * 1024) + 16;
    for (let x = 0; x < size; x += 1) {
      const X = (rx + dx[x][0]) >> 5;
      const Y = (ry + dx[x][1]) >> 5;
      const fx = (X & 31) / 32; const fy = (Y & 31) / 32;
      const sx = X >> 5; const sy = Y >> 5;
      const x0 = Math.min(Math.max(sx, 0), width - 1); const x1 = Math.min(Math.max(sx + 1, 0), width - 1);
      const y0 = Math.min(Math.max(sy, 0), height - 1); const y1 = Math.min(Math.max(sy + 1, 0), height - 1);
      const w00 = (1 - fx) * (1 - fy); const w01 = fx * (1 - fy); const w10 = (1 - fx) * fy; const w11 = fx * fy;
      for (let k = 0; k < ch; k += 1) {
        const v = w00 * data[(y0 * width + x0) * ch + k] + w01 * data[(y0 * width + x1) * ch + k]
          + w10 * data[(y1 * width + x0) * ch + k] + w11 * data[(y1 * width + x1) * ch + k];
        out[(y * size + x) * ch + k] = Math.min(255, halfUp(v));
      }
    }
  }
  return { data: out, width: size, height: size, channels: ch };
}

export { roundEven, area, linear, shrink, grey, region, warpAffine };
