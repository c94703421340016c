"""The `workbench` command's sub-commands, one module each; every module registers its own
parser and handler (`register(subparsers)`), as packages above the workbench do through the
`workbench.commands` entry-point group (reproductions/cli.py). `workbench.app.cli` builds
the parser from `BUILT_IN`, then the entry points."""
