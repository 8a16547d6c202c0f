"""The base of every struct the service sends (HTTP bodies, SSE events, webhook
bodies): keyword-only fields, so a field added later can never shift a
positional one. A struct that leaves out unset fields says ``omit_defaults=True``."""

from msgspec import Struct


class Wire(Struct, kw_only=True):
    """A body the service sends."""
