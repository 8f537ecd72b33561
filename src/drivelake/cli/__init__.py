"""The ``drivelake`` command line: thin commands over the Python API, one module per family.

Results go to stdout (``--format table|json|csv``); progress and messages go to stderr; the exit
code is 0 on success and non-zero with a one-line reason otherwise.
"""

from __future__ import annotations

import typer

from drivelake.cli import core, datasets, demo, events, ingest, models, privacy, share, video

app = typer.Typer(
    name="drivelake",
    help="drivelake: a versioned lake of fleet driving data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.callback()(core.main_options)
for module in (ingest, core, demo, events, video, share, privacy, models, datasets):
    module.register(app)


def main() -> None:
    """Console entry point: runs the app and turns drivelake errors into one-line reasons."""
    from drivelake.cli.output import run_app

    run_app(app)
