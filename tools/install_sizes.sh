#!/usr/bin/env bash
# Install size of the base package and of each extra, each in a fresh virtual environment under /tmp: prints a
# Markdown table (site-packages size with `du -sm`, and the number of packages installed besides pip).
# Usage: bash tools/install_sizes.sh [base|EXTRA ...]   (default: the base and every extra)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/emolens-sizes.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" . 2>/dev/null || python3 -m pip wheel -q --no-deps -w "$work/dist" .
wheel=$(ls "$work"/dist/emolens-*.whl)
echo "| install | site-packages (MB) | packages |"
echo "| --- | ---: | ---: |"
for extra in "${@:-base web reports video train ray postgres test all}"; do
  for one in $extra; do
    python3 -m venv "$work/$one"
    spec=$wheel; [ "$one" = base ] || spec="$wheel[$one]"
    if [ "$one" = train ] || [ "$one" = all ]; then "$work/$one/bin/pip" install -q "torch==2.13.0"; fi   # the CPU wheel, as .ci/run
    "$work/$one/bin/pip" install -q "$spec"
    site=$("$work/$one/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    size=$(du -sm "$site" | cut -f1)
    count=$(find "$site" -maxdepth 1 -name "*.dist-info" ! -name "pip-*" | wc -l)
    label=$([ "$one" = base ] && echo 'pip install .' || echo "pip install \".[$one]\"")
    echo "| \`$label\` | $size | $count |"
    rm -rf "$work/$one"
  done
done
