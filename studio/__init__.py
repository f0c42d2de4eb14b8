"""The gliaflow studio (browser canvas, palette, inspector, live plots) — see issue #3."""
