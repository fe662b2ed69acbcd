"""Server-side apply and ``metadata.managedFields``, as upstream's field manager.

Pure functions over plain dicts; see :mod:`pynetes.api.fieldmanager.manager`.
"""

from pynetes.api.fieldmanager.manager import apply, default_manager, track_update

__all__ = ["apply", "default_manager", "track_update"]
