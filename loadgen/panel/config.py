"""Panel configuration and the deterministic assignment of viewers to profiles, kinds, processes.

`parse_profiles("ID-4g:0.5,delay 150ms 20ms loss 1%:0.5")` reads the mix: comma-separated
entries, each a profile name or inline `tc netem` spec with an optional ``:weight`` (default 1;
weights are normalised). `assign_viewers` turns a `PanelConfig` into one `ViewerSpec` per viewer:
profile counts by largest remainder (exact shares, not draws), probes spread round-robin across
profiles so every profile has probes when there are enough, and the order shuffled by the seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from livelab.errors import ConfigError, Problem
from loadgen.panel.health import HealthLimits
from loadgen.panel.janus import SCHEMES as JANUS_SCHEMES
from loadgen.panel.janus import JanusTarget
from loadgen.panel.viewer import ViewerSpec

__all__ = [
    "LOCAL_HOSTS",
    "PanelConfig",
    "assign_viewers",
    "check_target",
    "parse_profiles",
    "split_processes",
]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class PanelConfig:
    """Everything a panel run needs.

    ``whep_url``: the WHEP endpoint (``http://127.0.0.1:8080/whep/demo``); ``viewers``: how many;
    ``profiles``: (name or inline spec, weight) pairs; ``duration_s``: run length in seconds
    (joins happen during the first ``ramp_s`` of it); ``probes``: how many viewers decode (the
    rest are lite); ``processes``: panel processes (one asyncio loop each; None = one per core,
    never more than viewers); ``seed``: assignment and impairment randomness;
    ``health``: when a process counts as saturated; ``g2g_warmup_s``: g2g samples of a viewer's
    first seconds after its first frame are left out of the distributions (a join-time backlog
    is reported by ``first_frame_g2g_ms`` instead); ``receiver``: ``fixed`` or ``stock`` (aiortc's
    own receive path, probes only, for comparison); ``allow_remote``: permit a non-loopback URL;
    ``join_rate``: joins per second per process at most (each join generates a DTLS certificate
    and runs a handshake on the loop; a burst of them would saturate the generator and inflate
    the join figures it measures), so a process's joins take max(ramp, its viewers / join_rate).
    """

    whep_url: str
    viewers: int
    profiles: tuple[tuple[str, float], ...] = (("delay 0ms", 1.0),)
    duration_s: float = 60.0
    probes: int = 0
    processes: int | None = None
    seed: int = 1
    health: HealthLimits = field(default_factory=HealthLimits)
    ramp_s: float | None = None
    g2g_warmup_s: float = 2.0
    receiver: str = "fixed"
    allow_remote: bool = False
    join_rate: float = 10.0

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        if self.viewers < 1:
            problems.append(Problem("panel", "viewers", self.viewers, "an integer ≥ 1"))
        if not 0 <= self.probes <= max(self.viewers, 0):
            problems.append(Problem("panel", "probes", self.probes, f"0..{self.viewers}"))
        if not self.duration_s > 0:
            problems.append(Problem("panel", "duration_s", self.duration_s, "> 0 seconds"))
        if self.processes is not None and self.processes < 1:
            problems.append(Problem("panel", "processes", self.processes, "an integer ≥ 1"))
        if not self.join_rate > 0:
            problems.append(Problem("panel", "join_rate", self.join_rate, "> 0 joins per second"))
        if self.receiver not in ("fixed", "stock"):
            problems.append(Problem("panel", "receiver", self.receiver, "fixed or stock"))
        if not self.profiles or any(w <= 0 or not math.isfinite(w) for _, w in self.profiles):
            problems.append(
                Problem("panel", "profiles", self.profiles, "at least one, weights > 0")
            )
        if problems:
            raise ConfigError(problems)

    @property
    def effective_ramp_s(self) -> float:
        """Seconds over which a process spreads its viewers' joins."""
        if self.ramp_s is not None:
            return max(0.0, min(self.ramp_s, self.duration_s / 2))
        return min(5.0, self.duration_s / 5)

    def process_count(self, cpu_count: int) -> int:
        """Processes actually started."""
        wanted = self.processes if self.processes is not None else max(1, cpu_count)
        return max(1, min(wanted, self.viewers))


def parse_profiles(text: str, source: str = "--profiles") -> tuple[tuple[str, float], ...]:
    """``"A:0.5,delay 100ms:0.5"`` → (("A", 0.5), ("delay 100ms", 0.5)); each profile is loaded
    once to check it (raises `ProfileError` naming it, or `ConfigError` for a bad weight)."""
    from netem_profiles.loader import load_profile

    out: list[tuple[str, float]] = []
    problems: list[Problem] = []
    for i, raw in enumerate(p.strip() for p in text.split(",")):
        if not raw:
            problems.append(Problem(source, f"[{i}]", raw, "a profile name or tc netem spec"))
            continue
        name, weight = raw, 1.0
        head, sep, tail = raw.rpartition(":")
        if sep:
            try:
                weight = float(tail)
                name = head.strip()
            except ValueError:
                name = raw
        if not (weight > 0 and math.isfinite(weight)):
            problems.append(Problem(source, f"{name}.weight", tail, "a number > 0"))
            continue
        load_profile(name)
        out.append((name, weight))
    if problems:
        raise ConfigError(problems)
    return tuple(out)


def check_target(url: str, allow_remote: bool, option: str = "--whep") -> str:
    """The URL's host; raises `ConfigError` (naming `option`) for a URL that is neither WHEP
    (http/https) nor a Janus mountpoint (janus+http/janus+https with ``?mountpoint=``), or for a
    non-loopback host without ``allow_remote``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", *JANUS_SCHEMES) or not parts.hostname:
        raise ConfigError(
            [
                Problem(
                    option,
                    "url",
                    url,
                    "a WHEP URL such as http://127.0.0.1:8080/whep/demo, or a Janus mountpoint "
                    "janus+http://HOST:PORT/janus?mountpoint=ID",
                )
            ]
        )
    if parts.scheme in JANUS_SCHEMES:
        try:
            JanusTarget.parse(url)
        except ValueError as exc:
            raise ConfigError(
                [Problem(option, "url", url, f"?mountpoint=ID on a Janus URL ({exc})")]
            ) from None
    host = parts.hostname
    if host not in LOCAL_HOSTS and not allow_remote:
        raise ConfigError(
            [
                Problem(
                    option,
                    "host",
                    host,
                    "127.0.0.1 (a remote target needs --allow-remote)",
                )
            ]
        )
    return host


def _counts(weights: list[float], n: int) -> list[int]:
    total = sum(weights)
    quotas = [w / total * n for w in weights]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def assign_viewers(config: PanelConfig) -> list[ViewerSpec]:
    """One `ViewerSpec` per viewer, the same for the same config (seed included)."""
    rng = random.Random(config.seed)
    names = [name for name, _ in config.profiles]
    counts = _counts([w for _, w in config.profiles], config.viewers)
    per_profile = [[name] * c for name, c in zip(names, counts, strict=True)]
    # Round-robin across profiles, so the first `probes` viewers cover every profile.
    interleaved: list[str] = []
    for k in range(max(counts, default=0)):
        interleaved += [lst[k] for lst in per_profile if k < len(lst)]
    kinds = ["probe" if i < config.probes else "lite" for i in range(config.viewers)]
    pairs = list(zip(interleaved, kinds, strict=True))
    rng.shuffle(pairs)
    return [
        ViewerSpec(
            index=i,
            profile=profile,
            kind=kind,
            receiver=config.receiver if kind == "probe" else "fixed",
            seed=rng.getrandbits(63),
        )
        for i, (profile, kind) in enumerate(pairs)
    ]


def split_processes(specs: list[ViewerSpec], processes: int) -> list[list[ViewerSpec]]:
    """Deal viewers to processes: probes first, round-robin, so each process carries a share of
    the expensive ones."""
    ordered = sorted(specs, key=lambda s: (s.kind != "probe", s.index))
    out: list[list[ViewerSpec]] = [[] for _ in range(processes)]
    for i, spec in enumerate(ordered):
        out[i % processes].append(spec)
    return out
