"""Where gliaflow keeps files of its own: compiled kernels (cache) and recovery files (data)."""
from __future__ import annotations

import os
from pathlib import Path


def user_dir(kind: str, env_var: str) -> Path:
    """``$env_var`` if set, else the platform's user cache or data folder for gliaflow
    (``kind`` is "cache" or "data"); created if missing."""
    d = os.environ.get(env_var)
    if d:
        p = Path(d)
    else:
        import platformdirs
        p = Path(platformdirs.user_cache_dir("gliaflow") if kind == "cache" else platformdirs.user_data_dir("gliaflow"))
    p.mkdir(parents=True, exist_ok=True)
    return p
