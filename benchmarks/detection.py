"""Face detection against known boxes: recall, false faces per image and time per 640x480 frame, per detector,
on the real photos (hand-checked boxes in data/face_boxes.json) and on synthetic scenes (scenes.py).

    python benchmarks/detection.py [--detectors blazeface-multi blazeface ...] [--scenes 40] [--seed 13]
                                   [--old-blazeface f5b3673] [--any-angle] [--ungated]
                                   [--conditions turned pitch ...] [--no-photos] [--photo-angles 0 35 90]

A detection finds a face when their boxes, both clipped to the frame, overlap with IoU >= 0.3 (each face and each
detection used once, best score first); every other detection is a false face. Targets (issue 13): 15/15 faces on the
multi-face photos and no false face on the 69 photos; on the scenes, recall >= 0.95 for faces of 24 px and larger,
tilted up to 45 degrees and cut by up to 30%, and <= 0.05 false faces per image. Issue 21: with ``--any-angle``
(the photo path), recall >= 0.95 for every scene angle of the turned scenes, 0 to 360 degrees.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from collections import defaultdict
from collections.abc import Callable, Iterable

import cv2
import numpy as np
from common import REPO
from scenes import CONDITIONS, Scene, SceneFace, face_boxes, make_scenes

from emolens.faces import DEFAULT_DETECTOR, DETECTORS, Detection, FaceDetector, create_detector
from emolens.faces.rotated import RotatedPasses, turned

MATCH_IOU = 0.3
BASELINE = "blazeface"
"""Times are also given relative to this detector (or to blazeface@COMMIT with --old-blazeface), measured in the
same run."""
BINS: dict[str, tuple[Callable[[SceneFace], float], tuple[float, ...]]] = {
    "size": (lambda f: f.side, (20, 24, 48, 120, 240, 433)),
    "rotation": (lambda f: abs(f.angle), (0, 15, 30, 45, 60)),
    "edge": (lambda f: f.cut * 100, (0, 10, 20, 30, 40)),
    "turned": (lambda f: f.angle % 360, (0, 45, 90, 135, 180, 225, 270, 315, 360)),
    "pitch": (lambda f: f.pitch, (0, 15, 30, 45)),
}
"""How the faces of a condition are split for the table: attribute and bin edges (size px, tilt degrees, % cut,
degrees turned, degrees looking down)."""
ANY_ANGLE = "+rotated"
"""Suffix of a detector wrapped in :class:`~emolens.faces.rotated.RotatedPasses` (the photo path's passes)."""
UPRIGHT_CONDITIONS = ("size", "rotation", "edge", "overlap", "dim", "bright")
"""The conditions of issue 13's target set (the turned and looking-down scenes have their own rows)."""


def _clipped(box: Iterable[float], width: int, height: int) -> np.ndarray:
    x, y, w, h = box
    return np.clip([x, y, x + w, y + h], 0, [width, height, width, height])


def match(truth: list[tuple[float, ...]], found: list[Detection], width: int, height: int) -> list[bool]:
    """Which true boxes a detection finds (greedy, best score first); the rest of ``found`` are false faces."""
    hit = [False] * len(truth)
    gts = [_clipped(b, width, height) for b in truth]
    for detection in sorted(found, key=lambda d: -d.score):
        d = _clipped(detection.box, width, height)
        best, best_iou = -1, MATCH_IOU
        for i, g in enumerate(gts):
            inter = max(0, min(d[2], g[2]) - max(d[0], g[0])) * max(0, min(d[3], g[3]) - max(d[1], g[1]))
            union = (d[2] - d[0]) * (d[3] - d[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
            if not hit[i] and union > 0 and inter / union >= best_iou:
                best, best_iou = i, inter / union
        if best >= 0:
            hit[best] = True
    return hit


def timed(detector: FaceDetector, image: np.ndarray) -> tuple[list[Detection], float]:
    start = time.perf_counter()
    found = detector.detect(image)
    return found, (time.perf_counter() - start) * 1000


def turned_boxes(boxes: list[list[float]], back: np.ndarray) -> list[tuple[float, ...]]:
    """Upright boxes of a photo in its copy turned by :func:`~emolens.faces.rotated.turned` (``back``: the copy's
    pixels to the photo's): centres mapped, sides kept (swapped by a quarter turn)."""
    forward = cv2.invertAffineTransform(back)
    out = []
    for x, y, w, h in boxes:
        cx, cy = forward @ [x + w / 2, y + h / 2, 1.0]
        w, h = (h, w) if abs(forward[0, 1]) > abs(forward[0, 0]) else (w, h)
        out.append((cx - w / 2, cy - h / 2, w, h))
    return out


def photos(detector: FaceDetector, angle: float = 0.0) -> str:
    """Faces found on the multi-face photos and false faces on all photos, turned by ``angle`` degrees."""
    found_multi = total_multi = false = 0
    misses = []
    for path, faces in sorted(face_boxes().items()):
        image, back = turned(cv2.imread(str(path)), angle)
        found = detector.detect(image)
        hit = match(turned_boxes([f["box"] for f in faces], back), found, image.shape[1], image.shape[0])
        false += len(found) - sum(hit)
        if len(faces) > 1:
            found_multi += sum(hit)
            total_multi += len(faces)
        misses += [f"{path.name}:{i}" for i, h in enumerate(hit) if not h]
    return (f"multi-face photos {found_multi}/{total_multi}, false faces on {len(face_boxes())} photos {false}"
            + (f"; missed {', '.join(misses)}" if misses else ""))


def old_blazeface(commit: str) -> FaceDetector:
    """BlazeFace full-range as ``src/emolens/faces/blazeface.py`` had it at ``commit`` (e.g. the default before
    issue 13, to time it in the same run as today's detectors)."""
    source = subprocess.run(["git", "show", f"{commit}:src/emolens/faces/blazeface.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    module = sys.modules.setdefault(f"blazeface_{commit}", types.ModuleType(f"blazeface_{commit}"))
    exec(compile(source, f"{commit}:blazeface.py", "exec"), module.__dict__)  # dataclasses need it in sys.modules
    return module.BlazeFaceDetector("full")


def in_target(face: SceneFace) -> bool:
    """The faces the recall target covers: 24 px and larger, tilted up to 45 degrees, cut by up to 30%."""
    return face.side >= 24 and abs(face.angle) <= 45 and face.cut <= 0.3


def run_interleaved(detectors: list[FaceDetector],
                    scenes: list[Scene]) -> list[list[tuple[list[Detection], float]]]:
    """Each detector's faces and milliseconds on each scene; the detectors take turns on every scene, so that a
    busy machine slows them alike and their times can be compared."""
    for detector in detectors:
        detector.detect(scenes[0].image)  # warm-up
    results: list[list[tuple[list[Detection], float]]] = [[] for _ in detectors]
    for scene in scenes:
        for detector, result in zip(detectors, results, strict=True):
            result.append(timed(detector, scene.image))
    return results


def scenes_table(name: str, scenes: list[Scene], results: list[tuple[list[Detection], float]],
                 baseline: str, baseline_ms: float) -> list[str]:
    """Markdown rows: recall (per bin where the condition has bins), false faces per image, ms per frame and the
    ratio of the median time to ``baseline_ms``."""
    hits: dict[str, list[bool]] = defaultdict(list)
    false: dict[str, int] = defaultdict(int)
    ms: dict[str, list[float]] = defaultdict(list)
    binned: dict[tuple[str, int], list[bool]] = defaultdict(list)
    target: list[bool] = []
    for scene, (found, elapsed) in zip(scenes, results, strict=True):
        hit = match([f.box for f in scene.faces], found, scene.image.shape[1], scene.image.shape[0])
        hits[scene.condition] += hit
        false[scene.condition] += len(found) - sum(hit)
        ms[scene.condition].append(elapsed)
        if scene.condition in UPRIGHT_CONDITIONS:
            target += [h for f, h in zip(scene.faces, hit, strict=True) if in_target(f)]
        if scene.condition in BINS:
            key, edges = BINS[scene.condition]
            for face, h in zip(scene.faces, hit, strict=True):
                binned[scene.condition, int(np.searchsorted(edges, key(face), side="right")) - 1] += [h]
    rows = []
    for condition in dict.fromkeys(s.condition for s in scenes):
        count = sum(1 for s in scenes if s.condition == condition)
        cells = ""
        if condition in BINS:
            edges = BINS[condition][1]
            cells = " ".join(f"{edges[i]:g}-{edges[i + 1]:g}: {_recall(binned[condition, i])};"
                             for i in range(len(edges) - 1))
        rows.append(f"| {name} | {condition} | {_recall(hits[condition])} | {cells} | "
                    f"{false[condition] / count:.3f} | {statistics.median(ms[condition]):.2f} |")
    all_ms = [m for c, v in ms.items() for m in v if c in UPRIGHT_CONDITIONS] or [m for v in ms.values() for m in v]
    rows.append(f"| {name} | **target set** | **{_recall(target)}** | 24 px+, <= 45 deg, <= 30% cut | "
                f"**{sum(false.values()) / len(scenes):.3f}** | **{statistics.median(all_ms):.2f}** "
                f"(p90 {statistics.quantiles(all_ms, n=10)[-1]:.2f}; "
                f"{statistics.median(all_ms) / baseline_ms:.2f}x {baseline}) |")
    return rows


def turned_table(name: str, scenes: list[Scene], results: list[tuple[list[Detection], float]]) -> list[str]:
    """Markdown rows for the "turned" scenes: recall, false faces per image and ms per frame for each 45-degree
    range of the scene's angle."""
    edges = BINS["turned"][1]
    rows = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        chosen = [(s, r) for s, r in zip(scenes, results, strict=True)
                  if s.condition == "turned" and low <= s.angle < high]
        if not chosen:
            continue
        hits, false = [], 0
        for scene, (found, _) in chosen:
            hit = match([f.box for f in scene.faces], found, scene.image.shape[1], scene.image.shape[0])
            hits += hit
            false += len(found) - sum(hit)
        rows.append(f"| {name} | {low:g}-{high:g} | {_recall(hits)} | {false / len(chosen):.3f} | "
                    f"{statistics.median(ms for _, (_, ms) in chosen):.2f} |")
    return rows


def _recall(hits: list[bool]) -> str:
    return f"{sum(hits) / len(hits):.3f} ({sum(hits)}/{len(hits)})" if hits else "-"


def build_detectors(args: argparse.Namespace) -> tuple[list[str], list[FaceDetector]]:
    """The detectors the arguments ask for, with their names."""
    names = list(dict.fromkeys(args.detectors + [BASELINE]))
    detectors = [create_detector(name) for name in names]
    if args.any_angle:
        names.insert(0, DEFAULT_DETECTOR + ANY_ANGLE)
        detectors.insert(0, RotatedPasses(create_detector(DEFAULT_DETECTOR)))
    if args.ungated:
        names.append(f"{DEFAULT_DETECTOR} (short pass always)")
        detectors.append(create_detector(DEFAULT_DETECTOR, short_gate_score=0.0, edge_gate_score=0.0))
    if args.old_blazeface:
        names.append(f"blazeface@{args.old_blazeface}")
        detectors.append(old_blazeface(args.old_blazeface))
    return names, detectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", choices=sorted(DETECTORS),
                        default=[DEFAULT_DETECTOR] + sorted(set(DETECTORS) - {DEFAULT_DETECTOR}))
    parser.add_argument("--scenes", type=int, default=40, help="scenes per condition")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=CONDITIONS)
    parser.add_argument("--any-angle", action="store_true",
                        help=f"also run the default detector with the photo path's turned passes ({DEFAULT_DETECTOR}"
                             f"{ANY_ANGLE}: faces at any angle)")
    parser.add_argument("--ungated", action="store_true",
                        help=f"also run {DEFAULT_DETECTOR} with its short-range pass on every frame (as before "
                             "issue 21)")
    parser.add_argument("--photos", action=argparse.BooleanOptionalAction, default=True,
                        help="also count faces and false faces on the real photos")
    parser.add_argument("--photo-angles", nargs="+", type=float, default=[0.0],
                        help="turn the photos by these angles (degrees, canvas expanded) before counting")
    parser.add_argument("--old-blazeface", metavar="COMMIT",
                        help="also time BlazeFace full-range as it was at this git commit (blazeface@COMMIT), and "
                             "give times relative to it")
    args = parser.parse_args()
    scenes = make_scenes(args.scenes, args.seed, tuple(args.conditions))
    faces = sum(len(s.faces) for s in scenes)
    print(f"{len(scenes)} synthetic 640x480 scenes (seed {args.seed}), {faces} faces; "
          f"default detector {DEFAULT_DETECTOR}")
    print("| detector | condition | recall | recall by size px / tilt deg / % cut | false faces per image "
          "| ms per frame (median) |")
    print("|---|---|---|---|---|---|")
    names, detectors = build_detectors(args)
    results = run_interleaved(detectors, scenes)
    baseline = names[-1] if args.old_blazeface else BASELINE
    baseline_ms = statistics.median(ms for _, ms in results[names.index(baseline)])
    for name, result in zip(names, results, strict=True):
        for row in scenes_table(name, scenes, result, baseline, baseline_ms):
            print(row)
    if "turned" in args.conditions:
        print("\nTurned scenes by the scene's angle (faces within +-15 degrees of it):")
        print("| detector | scene angle deg | recall | false faces per image | ms per frame (median) |")
        print("|---|---|---|---|---|")
        for name, result in zip(names, results, strict=True):
            for row in turned_table(name, scenes, result):
                print(row)
    print()
    for angle in args.photo_angles if args.photos else []:
        for name, detector in zip(names, detectors, strict=True):
            print(f"{name}{f', photos turned by {angle:g} degrees' if angle else ''}: {photos(detector, angle)}",
                  flush=True)


if __name__ == "__main__":
    main()
