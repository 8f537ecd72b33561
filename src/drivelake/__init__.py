"""drivelake: an open-source data engine for fleet driving data.

import drivelake
lake = drivelake.open("./lake")
lake.ingest(["~/fleet/"], vehicle_id="van-17")
lake.sql("SELECT vehicle_id, sum(distance_m) FROM drives GROUP BY 1")
"""

from drivelake.errors import DrivelakeError
from drivelake.lake import Lake, open

__version__ = "0.1.0"
__all__ = ["DrivelakeError", "Lake", "__version__", "open"]
