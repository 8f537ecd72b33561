"""The one error hierarchy of drivelake.

    DrivelakeError
    ├── InputError        bad or unreadable source data (names the file, the place and the problem)
    │   └── UnknownFormatError
    ├── StoreError        the lake cannot be opened, read or written
    │   └── NotFoundError a drive, table or version that does not exist
    ├── ModelError        a model cannot be loaded or run
    ├── EngineError       an execution engine is unknown or failed
    └── AccessError       a key, licence or share does not allow the request

Every message is one line a user can act on; backend errors are converted at the boundary
with ``raise ... from exc``.
"""

from __future__ import annotations

from pathlib import Path


class DrivelakeError(Exception):
    """Base class of every error drivelake raises on purpose."""


class InputError(DrivelakeError):
    """Bad source data: the message names the file, where in it, and what was wrong."""

    def __init__(self, path: str | Path, problem: str, where: str | None = None) -> None:
        self.path = str(path)
        self.where = where
        self.problem = problem
        place = f"{self.path}:{where}" if where else self.path
        super().__init__(f"{place}: {problem}")


class UnknownFormatError(InputError):
    """No reader recognises the source."""


class StoreError(DrivelakeError):
    """The lake could not be opened, read or written."""


class NotFoundError(StoreError):
    """A drive, table, dataset or version that does not exist."""


class ModelError(DrivelakeError):
    """A model could not be found, loaded or run."""


class EngineError(DrivelakeError):
    """An execution engine is unknown or failed."""


class AccessError(DrivelakeError):
    """A key, licence or share does not allow the request."""
