"""`python -m heliohub`, the same CLI as the `heliohub` command."""

from heliohub.cli.main import run

if __name__ == "__main__":
    run()
