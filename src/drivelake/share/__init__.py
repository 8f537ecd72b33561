"""Safe sharing: partners, licences, scoped API keys, shares, signed exports and an audit trail.

    from drivelake.share import Sharing
    sharing = Sharing(lake)
    sharing.add_partner("acme", contact="ops@acme.example")
    share = sharing.create_share("night-brakes@v1", partner="acme", uses=["research"],
                                 expires=date(2027, 6, 30), selection="distance_m > 1000")
    key = sharing.create_key(partner="acme")     # key.token is shown once, only a hash is kept

Modules: :mod:`~drivelake.share.registry` (partners, licences, shares), :mod:`.keys`,
:mod:`.audit` (hash-chained log), :mod:`.views` (what a partner sees), :mod:`.bundle` (signed
exports; :mod:`.bundle_jobs` writes them in the background through :mod:`.jobs`, job records kept
on disk), :mod:`.targets` (what a share points at), :mod:`.tables` and :mod:`.secret` (storage).
"""

from drivelake.share.keys import NewKey, Principal
from drivelake.share.registry import ANONYMISE_LEVELS, Licence, Share, Sharing

__all__ = ["ANONYMISE_LEVELS", "Licence", "NewKey", "Principal", "Share", "Sharing"]
