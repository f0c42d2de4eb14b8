"""Jupyter server extension: the studio renders in JupyterLab with no request leaving the machine.

Enabled by the config file ``etc/jupyter/jupyter_server_config.d/gliaflow.json`` that
``pip install gliaflow`` installs (or ``jupyter server extension enable studio.jupyter``).
When the server loads it: kernels get ``BOKEH_RESOURCES=server`` (Bokeh's scripts come from
the Jupyter server, not a CDN), and panel-reactflow and panel-material-ui are imported in
the server process so that Panel's own server extension serves their bundles.
"""
from __future__ import annotations

import os


def _jupyter_server_extension_points():
    return [{"module": "studio.jupyter"}]


def _load_jupyter_server_extension(serverapp) -> None:
    os.environ.setdefault("BOKEH_RESOURCES", "server")  # inherited by the kernels this server starts
    import panel_material_ui  # noqa: F401
    import panel_reactflow  # noqa: F401

    serverapp.log.info("gliaflow: Panel/Bokeh resources served locally (BOKEH_RESOURCES=server)")


load_jupyter_server_extension = _load_jupyter_server_extension  # older jupyter_server name
