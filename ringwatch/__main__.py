"""`python -m ringwatch`: the same as the `ringwatch` command."""

from ringwatch.cli import main

main()
