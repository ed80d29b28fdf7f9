"""`python -m batchgs` is the same as the `batchgs` console script."""

from batchgs.cli.main import main

if __name__ == "__main__":
    main()
