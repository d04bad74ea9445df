"""``python -m jsnn.train --config ... --workdir ...``: see :mod:`jsnn.train.cli`."""

from jsnn.train.cli import main

if __name__ == "__main__":
  main()
