"""``python -m tsanalysis`` runs the command line."""

from tsanalysis.cli import main

main()
