"""The HTML picture of an Array in Jupyter: a sketch of its chunk grid."""
from __future__ import annotations

__all__ = ["chunk_svg"]


def chunk_svg(shape, chunks, size=120):
    """A small picture of the chunk grid of the last two axes."""
    dims = [max(n, 1) for n in shape[-2:]] or [1]
    ch = [max(c, 1) for c in (chunks or dims)[-2:]] or [1]
    if len(dims) == 1:
        dims, ch = [1] + dims, [1] + ch
    h, w = dims
    scale = size / max(h, w)
    ph, pw = max(h * scale, 8), max(w * scale, 8)
    lines = []
    for k in range(min(-(-h // ch[0]), 50) + 1):
        y = min(k * ch[0] * ph / h, ph)
        lines.append(f'<line x1="0" y1="{y:.1f}" x2="{pw:.1f}" y2="{y:.1f}" />')
    for k in range(min(-(-w // ch[1]), 50) + 1):
        x = min(k * ch[1] * pw / w, pw)
        lines.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{ph:.1f}" />')
    return (f'<svg width="{pw + 2:.0f}" height="{ph + 2:.0f}" '
            f'style="stroke:rgb(0,0,0);stroke-width:1">'
            f'<polygon points="0,0 {pw:.1f},0 {pw:.1f},{ph:.1f} 0,{ph:.1f}" '
            f'style="fill:#8B4903A0;stroke-width:0"/>{"".join(lines)}</svg>')
