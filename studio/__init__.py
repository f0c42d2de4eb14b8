"""The gliaflow studio: a browser app (Panel + panel-reactflow + Bokeh) on the engine's Simulation.

``gliaflow studio [DESIGN]`` or ``panel serve app.py`` serves it; ``Studio(design)`` embeds it.
"""
from .app import Studio

__all__ = ["Studio"]
