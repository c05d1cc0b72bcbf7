"""The command line: thin Typer commands that parse, call and show progress."""
