"""Curated, versioned training datasets: members, recipes, snapshots, splits and exports.

``drivelake.curate.datasets(lake)["night-brakes"]`` is a :class:`~.datasets.Dataset`; the
curation verbs are in :mod:`.steps` (create, add, dedup, uniqueness, balance, sample, split),
snapshots, manifests and diffs in :mod:`.snapshot`, exports in :mod:`.exporters`, and a PyTorch
``Dataset`` over a snapshot in :mod:`.torch`. One module per idea: :mod:`.members` (selection
from the lake), :mod:`.neighbours` (embeddings, nearest neighbours, uniqueness), :mod:`.dedup`,
:mod:`.balance`, :mod:`.split`, :mod:`.sample`.
"""

from drivelake.curate.datasets import Dataset, Datasets, datasets, parse_ref

__all__ = ["Dataset", "Datasets", "datasets", "parse_ref"]
