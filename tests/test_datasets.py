"""The dataset loaders on the real FER2013 / FER+ data, in all three layouts, their checked options (split
names, label modes) and errors, and their image decoding (the runtime's, EXIF orientation included)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from support.helpers import plain_tree

from emolens.cli.main import cli
from emolens.datasets import DatasetError, dataset_has_split, load_dataset
from emolens.datasets.ferplus import votes_to_targets
from emolens.errors import ConfigError
from emolens.labels import FER2013_LABELS, FERPLUS_VOTE_COLUMNS
from emolens.pipeline.images import load_image

REFERENCE_COUNTS_PUBLICTEST = [467, 56, 496, 895, 653, 415, 607]  # from ../shared/data/fer2013/README.md


def real_pngs(fer_dir: Path, emotion: str, n: int) -> list[Path]:
    return sorted((fer_dir / "publictest" / emotion).glob("*.png"))[:n]


@pytest.fixture()
def folder_tree(tmp_path: Path, fer_dir: Path) -> Path:
    """A Kaggle-style tree with capitalised class names and train/ val/ splits, from real FER2013 faces."""
    for split, offset in (("train", 0), ("val", 5)):
        for emotion in ("happy", "sad", "angry"):
            target = tmp_path / split / emotion.capitalize()
            target.mkdir(parents=True)
            for png in real_pngs(fer_dir, emotion, 10)[offset:offset + 5]:
                shutil.copy(png, target / png.name)
    return tmp_path


def test_folder_tree_with_splits(folder_tree: Path) -> None:
    train = load_dataset(folder_tree, "train")
    val = load_dataset(folder_tree, "val")
    assert train.label_names == ("Angry", "Happy", "Sad")  # alphabetical: not the 7 FER names
    assert train.class_counts().tolist() == [5, 5, 5]
    assert len(val) == 15 and set(train.sources).isdisjoint(val.sources)
    assert train.images[0].shape == (48, 48) and train.images[0].dtype == np.uint8


def test_folder_tree_with_fixed_labels_skips_unknown(folder_tree: Path) -> None:
    data = load_dataset(folder_tree, "train", label_names=("happy", "sad"))
    assert data.class_counts().tolist() == [5, 5]
    assert data.skipped == {"Angry": 5}


def test_a_tree_without_split_folders_gets_a_stratified_reproducible_split(tmp_path: Path, fer_dir: Path) -> None:
    """80/10/10 per class (emolens.datasets.splits), disjoint, the same on every load and whatever labels a model
    asks for (so evaluation never sees training faces); dataset_has_split says so, and None is the whole tree."""
    tree = plain_tree(tmp_path / "faces", fer_dir, {"happy": 40, "sad": 20, "angry": 30})
    parts = {split: load_dataset(tree, split) for split in ("train", "val", "test")}
    assert {split: d.class_counts().tolist() for split, d in parts.items()} == {
        "train": [24, 32, 16], "val": [3, 4, 2], "test": [3, 4, 2]}  # angry, happy, sad: the FER order
    sources = [set(d.sources) for d in parts.values()]
    assert sum(map(len, sources)) == 90 and set.union(*sources) == set(load_dataset(tree).sources)
    assert load_dataset(tree, "test").sources == parts["test"].sources
    assert load_dataset(tree, "privatetest").sources == parts["test"].sources
    only_two = load_dataset(tree, "test", label_names=("happy", "sad"))
    assert set(only_two.sources) == set(parts["test"].sources) - {s for s in parts["test"].sources if "/angry/" in s}
    assert only_two.skipped == {"angry": 3}
    assert all(dataset_has_split(tree, split) for split in ("train", "val", "test"))


def test_a_tree_too_small_to_split_says_so(tmp_path: Path, fer_dir: Path) -> None:
    tree = plain_tree(tmp_path / "faces", fer_dir, {"happy": 3, "sad": 3})
    with pytest.raises(DatasetError, match="too few images per class for a stratified 80/10/10"):
        load_dataset(tree, "test")
    assert len(load_dataset(tree)) == 6  # the whole tree needs no split


def test_reference_folder_fer2013_labels(fer_dir: Path) -> None:
    data = load_dataset(fer_dir / "publictest")
    assert data.label_names == FER2013_LABELS
    assert data.class_counts().tolist() == REFERENCE_COUNTS_PUBLICTEST


def test_ferplus_majority_and_soft(fer_dir: Path) -> None:
    majority = load_dataset(fer_dir, "val", label_mode="majority")
    soft = load_dataset(fer_dir, "val", label_mode="soft")
    assert 3000 < len(majority) < len(soft) <= 3589
    assert soft.soft_labels is not None and np.allclose(soft.soft_labels.sum(axis=1), 1)
    assert (soft.soft_labels.argmax(axis=1) == soft.label_ids).all()
    # happy and neutral dominate FER+ (README: FER2013 label agrees with FER+ majority for 92% of happy)
    counts = majority.class_counts()
    assert counts.argmax() == FER2013_LABELS.index("neutral")
    assert counts[FER2013_LABELS.index("happy")] > 800


def test_votes_to_targets_drops_ties_and_non_emotions() -> None:
    votes = np.array([
        [0, 8, 2, 0, 0, 0, 0, 0, 0, 0],  # happiness
        [5, 5, 0, 0, 0, 0, 0, 0, 0, 0],  # tie
        [0, 0, 0, 0, 0, 0, 0, 6, 4, 0],  # contempt
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 9],  # not a face
        [0, 0, 0, 0, 6, 0, 4, 0, 0, 0],  # anger, with fear votes
    ])
    labels, soft = votes_to_targets(votes, "majority")
    assert labels.tolist() == [3, -1, -1, -1, 0]
    labels, soft = votes_to_targets(votes, "soft")
    assert labels.tolist() == [3, 3, -1, -1, 0]  # a tie goes to the first class (happy before neutral)
    assert soft[4].tolist() == pytest.approx([0.6, 0, 0.4, 0, 0, 0, 0])


def write_fer2013_csv(path: Path, fer_dir: Path, rows: list[tuple[int, Path, str]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["emotion", "pixels", "Usage"])
        for emotion, png, usage in rows:
            pixels = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
            writer.writerow([emotion, " ".join(map(str, pixels.ravel())), usage])


def test_fer2013_csv_and_ferplus_join(tmp_path: Path, fer_dir: Path) -> None:
    pngs = real_pngs(fer_dir, "happy", 3) + real_pngs(fer_dir, "sad", 3)
    rows = ([(e, p, "Training") for e, p in zip((0, 3, 3), pngs[:3], strict=True)]
            + [(4, p, "PublicTest") for p in pngs[3:]])
    write_fer2013_csv(tmp_path / "fer2013.csv", fer_dir, rows)
    data = load_dataset(tmp_path / "fer2013.csv", "val")
    assert data.label_ids.tolist() == [4, 4, 4]
    assert np.array_equal(data.images[0], cv2.imread(str(pngs[3]), cv2.IMREAD_GRAYSCALE))
    with (tmp_path / "fer2013new.csv").open("w", newline="") as f:
        f.write("Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n")
        for i in range(6):
            f.write(f"x,fer{i}.png,1,{9 if i < 3 else 0},0,{0 if i < 3 else 9},0,0,0,0,0,0\n")
    plus = load_dataset(tmp_path / "fer2013.csv", "train", label_mode="soft")
    assert plus.label_ids.tolist() == [3, 3, 3] and plus.soft_labels[0, 6] == pytest.approx(0.1)
    assert plus.original_label_ids.tolist() == [0, 3, 3]  # the CSV's own labels ride along with the votes


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nope: no such file or folder"):
        load_dataset(tmp_path / "nope")


def test_empty_class_is_named(tmp_path: Path, folder_tree: Path) -> None:
    (folder_tree / "train" / "Surprise").mkdir()
    with pytest.raises(DatasetError, match="Surprise: class folder holds no images"):
        load_dataset(folder_tree, "train")


def test_unreadable_image_is_named(folder_tree: Path) -> None:
    bad = folder_tree / "train" / "Happy" / "broken.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(DatasetError, match="broken.png: not an image file"):
        load_dataset(folder_tree, "train")


@pytest.mark.parametrize("row, message", [
    ("3,1 2 3,Training", "3 pixel values do not form a square image"),
    ("9,1 2 3 4,Training", "emotion must be 0..6"),
    ("x,1 2 3 4,Training", "emotion must be an integer"),
    ("3,1 2 3 999,Training", "pixel values must lie in 0..255"),
    ("3", "row has too few fields"),
])
def test_bad_csv_row_names_the_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text(f"emotion,pixels,Usage\n0,0 0 0 0,Training\n{row}\n")
    with pytest.raises(DatasetError, match=f"fer2013.csv:3: {message}"):
        load_dataset(path)


@pytest.mark.parametrize("emotion, message", [("9", "emotion must be 0..6, got 9"),
                                              ("x", "emotion must be an integer 0..6, got 'x'")])
def test_a_ferplus_folder_row_with_a_bad_original_label_names_the_line(tmp_path: Path, fer_dir: Path, emotion: str,
                                                                      message: str) -> None:
    """The FER+ folder's ``emotion`` column (each face's original label) is checked as the FER2013 CSV's is."""
    (tmp_path / "train").mkdir()
    png = real_pngs(fer_dir, "happy", 1)[0]
    (tmp_path / "train" / "a.png").write_bytes(png.read_bytes())
    votes = "0,9,0,0,0,0,0,0,0,0"
    (tmp_path / "labels.csv").write_text(
        "usage,emotion,path," + ",".join(f"fp_{c}" for c in FERPLUS_VOTE_COLUMNS) + "\n"
        f"Training,3,train/a.png,{votes}\nTraining,{emotion},train/a.png,{votes}\n")
    with pytest.raises(DatasetError, match=f"labels.csv:3: {message}"):
        load_dataset(tmp_path, "train", label_mode="soft")


def test_an_unknown_label_mode_is_an_error_not_fer2013_labels(fer_dir: Path) -> None:
    with pytest.raises(ConfigError, match="label_mode must be one of fer2013, majority, soft, not 'Majority'"):
        load_dataset(fer_dir, "val", label_mode="Majority")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="label_mode must be one of majority, soft, not 'fer2013'"):
        votes_to_targets(np.ones((1, 10)), "fer2013")
    result = CliRunner().invoke(cli, ["evaluate", str(fer_dir), "--split", "test", "--label-mode", "Majority"])
    assert result.exit_code == 2 and "'Majority' is not one of 'fer2013', 'majority', 'soft'" in result.output


def test_votes_asked_of_a_csv_without_them_is_an_error(tmp_path: Path, fer_dir: Path) -> None:
    write_fer2013_csv(tmp_path / "fer2013.csv", fer_dir, [(3, real_pngs(fer_dir, "happy", 1)[0], "Training")])
    assert load_dataset(tmp_path / "fer2013.csv", "train").label_ids.tolist() == [3]
    with pytest.raises(DatasetError, match="label_mode 'majority' needs FER\\+ votes, but there is no fer2013new.csv"):
        load_dataset(tmp_path / "fer2013.csv", "train", label_mode="majority")


def test_split_aliases_mean_the_same_split_everywhere(tmp_path: Path, fer_dir: Path, folder_tree: Path) -> None:
    pngs = real_pngs(fer_dir, "happy", 4)
    usages = ["Training", "PublicTest", "PrivateTest", "PublicTest"]
    write_fer2013_csv(tmp_path / "fer2013.csv", fer_dir, [(3, p, u) for p, u in zip(pngs, usages, strict=True)])
    csv = tmp_path / "fer2013.csv"
    assert load_dataset(csv, "PublicTest").sources == load_dataset(csv, "val").sources
    assert len(load_dataset(tmp_path / "fer2013.csv", "privatetest")) == 1
    assert len(load_dataset(fer_dir, "publictest", label_mode="majority")) == \
        len(load_dataset(fer_dir, "val", label_mode="majority"))
    (folder_tree / "val").rename(folder_tree / "Validation")
    assert len(load_dataset(folder_tree, "val")) == 15
    with pytest.raises(ConfigError, match="split must be one of train, training, val, .* not 'dev'"):
        load_dataset(tmp_path / "fer2013.csv", "dev")


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_dataset_images_are_decoded_like_the_runtime_s_upright(tmp_path: Path, photos_dir: Path,
                                                               orientation: int) -> None:
    """A phone photo stores its pixels sideways with an EXIF orientation tag: the dataset loader turns it upright,
    exactly as the runtime's loader does (cv2.imread-style decoding would keep it sideways)."""
    photo = Image.open(photos_dir / "deepface_img1.jpg").convert("RGB")
    stored = photo.transpose({3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
                              8: Image.Transpose.ROTATE_270}[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    path = tmp_path / "faces" / "happy" / "phone.jpg"
    path.parent.mkdir(parents=True)
    stored.save(path, quality=95, exif=exif)
    image = load_dataset(tmp_path / "faces").images[0]
    assert np.array_equal(image, load_image(path))
    upright = cv2.cvtColor(np.asarray(photo), cv2.COLOR_RGB2BGR)
    assert image.shape == upright.shape
    assert np.abs(image.astype(int) - upright).mean() < 3  # the photo as taken, up to JPEG re-encoding


def test_a_16_bit_png_is_scaled_not_clipped(tmp_path: Path, fer_dir: Path) -> None:
    face = cv2.imread(str(real_pngs(fer_dir, "sad", 1)[0]), cv2.IMREAD_GRAYSCALE)
    path = tmp_path / "faces" / "sad" / "face16.png"
    path.parent.mkdir(parents=True)
    cv2.imwrite(str(path), face.astype(np.uint16) * 257)
    image = load_dataset(tmp_path / "faces").images[0]
    assert image.shape == face.shape and np.abs(image.astype(int) - face).max() <= 1
    assert np.array_equal(load_image(path), cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
