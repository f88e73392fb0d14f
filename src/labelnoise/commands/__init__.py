"""CLI subcommands, one module each (see labelnoise.cli.COMMANDS)."""
