"""Panel configuration and the deterministic assignment of viewers to profiles, kinds, processes.

`parse_profiles("ID-4g:0.5,delay 150ms 20ms loss 1%:0.5")` reads the mix: comma-separated
entries, each a profile name or inline `tc netem` spec with an optional ``:weight`` (default 1;
weights are normalised). `parse_kinds("lite:0.8,probe:0.15,browser:0.05", viewers)` turns a kind
mix into (probes, browsers) counts by the same largest-remainder rule. `assign_viewers` turns a
`PanelConfig` into one `ViewerSpec` per viewer: profile counts by largest remainder (exact
shares, not draws); browsers, then probes from where the browsers stopped, dealt round-robin
across the profiles (so each kind covers as many profiles as it has viewers, and every profile
gets a g2g-measuring viewer when there are at least as many as profiles); the order shuffled
by the seed. `unmeasured_profiles` names the profiles left without one, so the panel can say
so before it starts.
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
from netem_profiles import netio

__all__ = [
    "KINDS",
    "PanelConfig",
    "assign_viewers",
    "check_target",
    "parse_kinds",
    "parse_profiles",
    "split_processes",
    "unmeasured_profiles",
]

KINDS = ("lite", "probe", "browser")  # cheapest first; probe and browser measure g2g
MEASURING = frozenset({"probe", "browser"})


@dataclass(frozen=True)
class PanelConfig:
    """Everything a panel run needs.

    ``whep_url``: the WHEP endpoint (``http://127.0.0.1:8080/whep/demo``); ``viewers``: how many;
    ``profiles``: (name or inline spec, weight) pairs; ``duration_s``: run length in seconds
    (joins happen during the first ``ramp_s`` of it); ``probes``: how many viewers decode;
    ``browsers``: how many are headless Chromium tabs (the rest are lite); ``cohosts``: how many
    go on air with the host (`loadgen.panel.cohost`, a reference-stack WHEP target with free
    guest slots; dealt across the profiles before the other kinds); ``processes``: panel
    processes (one asyncio loop each; None = one per core, never more than viewers);
    ``seed``: assignment and impairment randomness;
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
    browsers: int = 0
    cohosts: int = 0
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
        if not 0 <= self.browsers <= max(self.viewers - max(self.probes, 0), 0):
            problems.append(
                Problem(
                    "panel",
                    "browsers",
                    self.browsers,
                    f"0..{max(self.viewers - self.probes, 0)} (viewers − probes)",
                )
            )
        free = max(self.viewers - max(self.probes, 0) - max(self.browsers, 0), 0)
        if not 0 <= self.cohosts <= free:
            problems.append(
                Problem(
                    "panel", "cohosts", self.cohosts, f"0..{free} (viewers − probes − browsers)"
                )
            )
        if self.cohosts and JanusTarget.is_janus(self.whep_url):
            problems.append(
                Problem("panel", "cohosts", self.cohosts, "0 with a Janus target (no co-hosting)")
            )
        if not self.duration_s > 0:
            problems.append(Problem("panel", "duration_s", self.duration_s, "> 0 seconds"))
        if self.browsers and self.allow_remote:
            # The browsers' media relays only loopback candidates (browser_path.py).
            problems.append(
                Problem(
                    "panel", "browsers", self.browsers, "0 with a remote target (loopback only)"
                )
            )
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
    from netem_profiles import load_profile

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


def parse_kinds(text: str, viewers: int, source: str = "--kinds") -> tuple[int, int]:
    """``"lite:0.8,probe:0.15,browser:0.05"`` → (probes, browsers) out of ``viewers``, by largest
    remainder over the normalised weights (a kind left out gets none). Raises `ConfigError`
    naming an unknown kind or a bad weight."""
    weights = dict.fromkeys(KINDS, 0.0)
    problems: list[Problem] = []
    for i, raw in enumerate(p.strip() for p in text.split(",")):
        name, _, tail = raw.partition(":")
        name = name.strip()
        if name not in KINDS:
            problems.append(Problem(source, f"[{i}]", raw, f"one of {', '.join(KINDS)}"))
            continue
        try:
            weight = float(tail) if tail else 1.0
        except ValueError:
            weight = float("nan")
        if not (weight >= 0 and math.isfinite(weight)):
            problems.append(Problem(source, f"{name}.weight", tail, "a number ≥ 0"))
            continue
        weights[name] += weight
    if not problems and sum(weights.values()) <= 0:
        problems.append(Problem(source, "weights", text, "at least one weight > 0"))
    if problems:
        raise ConfigError(problems)
    counts = dict(zip(KINDS, _counts(list(weights.values()), viewers), strict=True))
    return counts["probe"], counts["browser"]


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
    if not netio.is_loopback(host) and not allow_remote:
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


def _deal(slots: list[list[str]], count: int, kind: str, start: int) -> int:
    """Give ``count`` free slots (``"lite"``) to ``kind``, one profile after the next from
    profile ``start``; returns the profile to continue from."""
    k = start
    while count > 0 and any("lite" in lst for lst in slots):
        lst = slots[k % len(slots)]
        if "lite" in lst:
            lst[lst.index("lite")] = kind
            count -= 1
        k += 1
    return k


def assign_viewers(config: PanelConfig) -> list[ViewerSpec]:
    """One `ViewerSpec` per viewer, the same for the same config (seed included)."""
    rng = random.Random(config.seed)
    names = [name for name, _ in config.profiles]
    counts = _counts([w for _, w in config.profiles], config.viewers)
    slots = [["lite"] * c for c in counts]
    # Browsers first (the scarcest), then probes where the browsers stopped: each kind covers
    # as many profiles as it has viewers, and together they cover as many as they can.
    # Co-hosts before all: each profile that can get one should (their figures are per profile).
    after_cohosts = _deal(slots, config.cohosts, "cohost", 0) if config.cohosts else 0
    _deal(slots, config.probes, "probe", _deal(slots, config.browsers, "browser", after_cohosts))
    pairs = [(name, kind) for name, lst in zip(names, slots, strict=True) for kind in lst]
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


def unmeasured_profiles(config: PanelConfig, specs: list[ViewerSpec]) -> list[str]:
    """Profiles of ``config`` that no probe or browser viewer of ``specs`` measures (their g2g
    would be missing from the results), in the order of ``config.profiles``."""
    measured = {s.profile for s in specs if s.kind in MEASURING}
    return [name for name, _ in config.profiles if name not in measured]


def split_processes(specs: list[ViewerSpec], processes: int) -> list[list[ViewerSpec]]:
    """Deal viewers to processes: browsers, then probes, then lite, round-robin, so each process
    carries a share of the expensive ones."""
    cost = {"browser": 0, "cohost": 0, "probe": 1}
    ordered = sorted(specs, key=lambda s: (cost.get(s.kind, 2), s.index))
    out: list[list[ViewerSpec]] = [[] for _ in range(processes)]
    for i, spec in enumerate(ordered):
        out[i % processes].append(spec)
    return out
