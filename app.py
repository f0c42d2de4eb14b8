"""Entry point for ``panel serve app.py [--args DESIGN.json]``: one studio per browser session."""
import sys

import panel as pn

from studio import Studio

pn.extension()
design = sys.argv[1] if len(sys.argv) > 1 else None
Studio(design).servable(title="gliaflow studio")
