"""`python -m lifebank` is the `lifebank` command."""

from lifebank.cli.main import main

main()
