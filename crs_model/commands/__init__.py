"""The CLI's subcommands: each module registers its parsers and holds their handlers."""
