r"""``python -m experiments.main``: the package's trainer entry point, kept for the README's commands.

  python -m experiments.main --config experiments/configs/<name>.py[:args] --workdir <dir>

is exactly ``python -m jsnn.train --config ... --workdir ...`` (:mod:`jsnn.train.cli`, which
documents the flags, the name resolution and the resume policy). The names below are re-exported
for scripts and tests written against this module.
"""

from __future__ import annotations

from jsnn.train.cli import (DATASETS, INPUT_KEYS, main, resolve_data, resolve_method,
                            resolve_model, run)

__all__ = ["DATASETS", "INPUT_KEYS", "main", "resolve_data", "resolve_method", "resolve_model",
           "run"]

if __name__ == "__main__":
  main()
