"""`--media URL` for `livelab run`, `gate` and `capacity`: where the media panel watches.

By default the panel views the target's own WHEP endpoint (``{target}/whep/{room}``, the
reference stack's path). ``--media`` points it anywhere else while the load (interaction) still
goes to ``--target`` or the reference stack: another WHEP server, or a Janus Streaming mountpoint
``janus+http://H:P/janus?mountpoint=ID`` (docs/targets.md).
"""

from __future__ import annotations

__all__ = ["MEDIA_HELP", "media_url"]

MEDIA_HELP = (
    "media target of the panel (default: TARGET/whep/ROOM): a WHEP URL, or a Janus mountpoint "
    "janus+http://H:P/janus?mountpoint=ID; interaction still goes to --target"
)


def media_url(base_url: str, room: str, media: str | None) -> str:
    """The URL the panel views: `media` if given, else the reference WHEP path of `base_url`."""
    return media or f"{base_url.rstrip('/')}/whep/{room}"
