"""``emolens calibrate``: fit a model's temperature and class bias on validation data and store them in it."""

from __future__ import annotations

from pathlib import Path

import click

from emolens.cli.errors import user_errors
from emolens.cli.output import to_json
from emolens.datasets.options import LABEL_MODES, SPLIT_NAMES, LabelMode


def _balances(_ctx: click.Context, _param: click.Parameter, text: str) -> tuple[float, ...]:
    """``--class-balances``: comma-separated numbers from 0 to 1."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r}: give numbers from 0 to 1 separated by commas") from None
    if any(not 0 <= v <= 1 for v in values):
        raise click.BadParameter(f"{text!r}: each class balance must be from 0 to 1")
    return values


@click.command("calibrate")
@click.argument("model_path", type=click.Path(path_type=Path))
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True, help="ONNX file to write.")
@click.option("--split", type=click.Choice(SPLIT_NAMES, case_sensitive=False), default="val", show_default=True,
              help="Split to fit on (never the one you report).")
@click.option("--label-mode", type=click.Choice(LABEL_MODES), default="majority", show_default=True,
              help="For FER+ sources: the original FER2013 labels, or the FER+ votes (majority, or soft: ties kept).")
@click.option("--bias/--no-bias", default=True, show_default=True,
              help="Also fit a per-class logit bias that maximises accuracy under the robustness shifts.")
@click.option("--class-balance", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="0 fits the bias for the class frequencies of DATA_DIR; towards 1, for every class equally "
                   "common (1 maximises the mean per-class recall). The model's default.")
@click.option("--class-balances", type=str, default="", callback=_balances, metavar="B1,B2,...",
              help="Also fit and store these class balances (e.g. 0,0.25,0.5,0.75,1), for people to choose at "
                   "run time with --class-balance; between two, bias and temperature are interpolated.")
@click.option("--max-ratio", type=click.FloatRange(min=1.0), default=None,
              help="No class may be predicted more than this many times as often as it occurs in DATA_DIR, "
                   "under any of the shifts (the bundled model: 1.5).")
@user_errors
def command(model_path: Path, data_dir: Path, out_path: Path, split: str, label_mode: LabelMode, bias: bool,
            class_balance: float, class_balances: tuple[float, ...], max_ratio: float | None) -> None:
    """Calibrate MODEL_PATH on DATA_DIR: the scores it shows become honest probabilities (temperature scaling),
    and no class wins by default under real-photo shifts (logit bias). Prints what was fitted as JSON."""
    from emolens.training.calibrate import calibrate

    fitted = calibrate(model_path, data_dir, out_path, split=split, label_mode=label_mode, bias=bias,
                       class_balance=class_balance, max_ratio=max_ratio, class_balances=class_balances)
    click.echo(to_json(fitted))
