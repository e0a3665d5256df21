#!/usr/bin/env bash
# export-hf writes a directory transformers loads whole: AutoTokenizer (GPT-2
# files and a NeoX-style tokenizer.json) agrees with photon-sim and the source
# tokenizer, generation_config.json names the end-of-text token, and
# pipeline("text-generation") reproduces `photon-sim sample --temperature 0`
# (tests/hf_export_check.py).  Skips (77) without the test venv.
set -u
BIN=${PHOTON_SIM:?PHOTON_SIM not set}
SRC=${PHOTON_SOURCE_DIR:?PHOTON_SOURCE_DIR not set}
export PYTHONDONTWRITEBYTECODE=1
PY=${PHOTON_VENV_PYTHON:-$(bash "$SRC/tools/pyenv.sh" --no-install)} || exit 77
"$PY" -c "import torch, transformers, tokenizers" 2>/dev/null || { echo "torch/transformers/tokenizers not installed: skipped"; exit 77; }
exec "$PY" "$SRC/tests/hf_export_check.py" "$BIN" "$SRC"
