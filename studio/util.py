"""Small helpers shared by the studio's modules."""
from __future__ import annotations

import html
from typing import Any


def esc(s: Any) -> str:
    """Text for HTML panes: escaped, never markup."""
    return html.escape(str(s))
