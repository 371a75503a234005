"""Render a profile as the equivalent kernel `tc` commands (for machines where netem exists).

The commands are meant for the *origin side* of the path: ``down`` (origin → viewer) leaves
through ``dev``, so it becomes a netem qdisc at ``dev``'s root; ``up`` (viewer → origin) arrives
on ``dev``, and since netem only shapes egress, ingress traffic is redirected to an ``ifb``
device whose root carries the up direction's netem. Rate limiting uses netem's own ``rate``
(serialisation delay inside netem, which is what the user-space scheduler reproduces), and
``limit`` is netem's queue limit in packets. Running them needs root and the ``ifb`` module.
"""

from __future__ import annotations

from netem_profiles.model import Direction, Profile

__all__ = ["netem_args", "render_tc"]


def _pct(x: float) -> str:
    return f"{x * 100:.6g}%"


def _ms(x: float) -> str:
    return f"{x:.6g}ms"


def netem_args(d: Direction) -> str:
    """The ``netem ...`` argument string for one direction (tc-netem(8) syntax)."""
    parts = [f"limit {d.limit_pkts}"]
    if d.delay_ms or d.jitter_ms:
        delay = f"delay {_ms(d.delay_ms)}"
        if d.jitter_ms:
            delay += f" {_ms(d.jitter_ms)}"
            if d.delay_corr:
                delay += f" {_pct(d.delay_corr)}"
            if d.distribution != "uniform":
                delay += f" distribution {d.distribution}"
        parts.append(delay)
    if d.ge is not None:
        g = d.ge
        parts.append(f"loss gemodel {_pct(g.p)} {_pct(g.r)} {_pct(g.bad_loss)} {_pct(g.good_loss)}")
    elif d.loss:
        loss = f"loss random {_pct(d.loss)}"
        if d.loss_corr:
            loss += f" {_pct(d.loss_corr)}"
        parts.append(loss)
    if d.duplicate:
        dup = f"duplicate {_pct(d.duplicate)}"
        if d.duplicate_corr:
            dup += f" {_pct(d.duplicate_corr)}"
        parts.append(dup)
    if d.reorder:
        reo = f"reorder {_pct(d.reorder)}"
        if d.reorder_corr:
            reo += f" {_pct(d.reorder_corr)}"
        parts.append(f"{reo} gap {d.reorder_gap}")
    if d.rate_kbit is not None:
        parts.append(f"rate {d.rate_kbit:.6g}kbit")
    return "netem " + " ".join(parts)


def render_tc(profile: Profile, dev: str, *, ifb: str = "ifb0") -> list[str]:
    """`tc`/`ip` commands applying ``profile`` at the origin-side interface ``dev``.

    Lines starting with ``#`` are comments. ``ifb`` names the device used for the up direction.
    """
    lines = [f"# profile {profile.name}: {profile.source}".rstrip(": ")]
    lines.append(f"# down (origin → viewer): egress of {dev}")
    lines.append(f"tc qdisc replace dev {dev} root handle 1: {netem_args(profile.down)}")
    if not profile.up.is_clean:
        lines += [
            f"# up (viewer → origin): ingress of {dev}, redirected to {ifb} "
            "(netem shapes egress only)",
            "modprobe ifb numifbs=1",
            f"ip link add {ifb} type ifb 2>/dev/null || true",
            f"ip link set dev {ifb} up",
            f"tc qdisc replace dev {dev} handle ffff: ingress",
            f"tc filter replace dev {dev} parent ffff: protocol all prio 1 u32 match u32 0 0 "
            f"action mirred egress redirect dev {ifb}",
            f"tc qdisc replace dev {ifb} root handle 1: {netem_args(profile.up)}",
        ]
    lines.append(
        f"# undo: tc qdisc del dev {dev} root; tc qdisc del dev {dev} ingress; ip link del {ifb}"
    )
    return lines
