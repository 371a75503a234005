"""Precise asyncio timers, and a histogram of how late scheduled sends really were.

Why: asyncio's default selector on Linux is epoll, whose timeout has millisecond resolution;
Python rounds it *up* (``math.ceil(timeout * 1e3)``), so a timer due in 0.2 ms wakes the loop
after 1 ms, and timer-driven sends are late by up to 1 ms plus the kernel's timer slack
(50 µs by default). For a packet scheduler that is the whole error budget. `PreciseSelector`
keeps epoll for the file descriptors but arms a ``timerfd`` (nanosecond resolution, on the
monotonic clock that asyncio uses) for the loop's next deadline and waits on epoll without a
timeout, so the loop wakes when the deadline passes, not up to a millisecond later. No busy
waiting. `new_event_loop()` builds a loop with it (falling back to the default loop where
timerfd is unavailable); `set_timer_slack_ns()` lowers the process's timer slack.

On a shared machine the larger error is not the timer but the run queue: when more processes
want a CPU than there are cores, a woken relay waits for the scheduler (CFS) for milliseconds.
`request_realtime()` asks for ``SCHED_FIFO`` so a woken relay runs at once; it needs root or
CAP_SYS_NICE and suits light, event-driven processes such as the relays (the kernel's RT
throttling still leaves 5 % of each CPU to others), not CPU-bound ones such as a media panel.
`request_short_slice()` is the normal-priority alternative: on Linux ≥ 6.12 (EEVDF) an ordinary
``SCHED_OTHER`` thread may ask for a shorter time slice (``sched_setattr``'s ``sched_runtime``,
0.1–100 ms, no privilege needed). Its weight (nice 0, its share of the CPU) is unchanged, but
its virtual deadline comes sooner, so when it wakes it preempts a CPU hog instead of waiting for
the hog's slice (1.4 ms here) to end. Older kernels ignore the request; the function says so.

`DeadlineTimer` is a ``timerfd`` armed at an absolute monotonic time and watched by any asyncio
selector loop as a reader, so one timer is precise whichever loop runs it (the panel runs its
relays on the default loop); `PreciseSelector` does the same for all of a loop's timers.

`LatenessHistogram` records actual − scheduled send times in 10 µs bins, cheaply enough for
every packet, and reports percentiles.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import math
import os
import select
import selectors
import sys
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DeadlineTimer",
    "LatenessHistogram",
    "LatenessSnapshot",
    "PreciseSelector",
    "new_event_loop",
    "precise_timers_available",
    "request_realtime",
    "request_short_slice",
    "set_timer_slack_ns",
]

log = logging.getLogger(__name__)

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1
_PR_SET_TIMERSLACK = 29
_SYS_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}
_SYS_SCHED_GETATTR = {"x86_64": 315, "aarch64": 275}


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        lib.timerfd_create  # noqa: B018 - probe that the symbol exists
    except (OSError, AttributeError):
        return None
    return lib


_LIBC = _libc()


def precise_timers_available() -> bool:
    """True where `PreciseSelector` can work (Linux with timerfd and epoll)."""
    return _LIBC is not None and hasattr(select, "epoll")


def set_timer_slack_ns(ns: int = 1000) -> bool:
    """Lower this thread's timer slack (Linux prctl PR_SET_TIMERSLACK); False if unsupported."""
    if _LIBC is None:
        return False
    return int(_LIBC.prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(ns), 0, 0, 0)) == 0


def request_realtime(priority: int = 10) -> bool:
    """Switch this process to ``SCHED_FIFO`` at ``priority``; False if not permitted/supported."""
    setter = getattr(os, "sched_setscheduler", None)
    if setter is None:
        return False
    try:
        setter(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError:
        return False
    return True


class _SchedAttr(ctypes.Structure):
    # include/uapi/linux/sched/types.h, struct sched_attr (SCHED_ATTR_SIZE_VER1, 56 bytes)
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("sched_policy", ctypes.c_uint32),
        ("sched_flags", ctypes.c_uint64),
        ("sched_nice", ctypes.c_int32),
        ("sched_priority", ctypes.c_uint32),
        ("sched_runtime", ctypes.c_uint64),
        ("sched_deadline", ctypes.c_uint64),
        ("sched_period", ctypes.c_uint64),
        ("sched_util_min", ctypes.c_uint32),
        ("sched_util_max", ctypes.c_uint32),
    ]


def _sched_attr() -> _SchedAttr | None:
    nr = _SYS_SCHED_GETATTR.get(os.uname().machine)
    if _LIBC is None or nr is None:
        return None
    attr = _SchedAttr()
    if _LIBC.syscall(nr, 0, ctypes.byref(attr), ctypes.sizeof(attr), 0) != 0:
        return None
    return attr


def request_short_slice(slice_ns: int = 100_000) -> int | None:
    """Ask the kernel (EEVDF, Linux ≥ 6.12) to give this thread ``slice_ns`` time slices while
    keeping it ``SCHED_OTHER`` at its nice value; returns the slice in force afterwards (ns), or
    None where the kernel cannot say or refused. A kernel that ignores the request (before
    6.12) reports its default slice or 0, so callers compare the result with ``slice_ns``."""
    nr = _SYS_SCHED_SETATTR.get(os.uname().machine)
    current = _sched_attr()
    if _LIBC is None or nr is None or current is None or current.sched_policy != 0:
        return None  # not SCHED_OTHER (e.g. already SCHED_FIFO): leave it alone
    attr = _SchedAttr(
        size=ctypes.sizeof(_SchedAttr),
        sched_policy=0,  # SCHED_OTHER
        sched_nice=current.sched_nice,
        sched_runtime=slice_ns,
    )
    if _LIBC.syscall(nr, 0, ctypes.byref(attr), 0) != 0:
        return None
    after = _sched_attr()
    return None if after is None else int(after.sched_runtime)


class DeadlineTimer:
    """Calls ``callback()`` once the monotonic clock (asyncio's ``loop.time()``) reaches the
    armed time, on any selector loop: a ``timerfd`` with an absolute deadline, watched with
    ``loop.add_reader``, so it has nanosecond resolution even on asyncio's default loop, whose
    own timers round up to the next millisecond. With ``use_timerfd=False``, where timerfd is
    missing, or where the loop has no ``add_reader``, it is ``loop.call_at``. Re-arming replaces
    the deadline."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, callback: Any, *, use_timerfd: bool = True
    ) -> None:
        self._loop = loop
        self._callback = callback
        self._fd = -1  # made at the first `arm_at`, so a timer never armed holds no descriptor
        self._fallback = not (use_timerfd and precise_timers_available())
        self._handle: asyncio.TimerHandle | None = None
        self._spec = _Itimerspec()
        self._closed = False

    @property
    def precise(self) -> bool:
        """True when a timerfd drives (or will drive) this timer."""
        return not self._fallback

    def _open(self) -> bool:
        fd = int(_LIBC.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC))
        if fd < 0:
            self._fallback = True
            return False
        try:
            self._loop.add_reader(fd, self._expired)
        except NotImplementedError:  # a proactor-style loop
            os.close(fd)
            self._fallback = True
            return False
        self._fd = fd
        return True

    def arm_at(self, when: float) -> None:
        """Fire at monotonic time ``when`` (s); a time already past fires at the next loop turn.
        Does nothing once closed."""
        if self._closed:
            return
        if self._fd < 0 and (self._fallback or not self._open()):
            if self._handle is not None:
                self._handle.cancel()
            self._handle = self._loop.call_at(when, self._callback)
            return
        ns = max(1, int(when * 1e9))  # 0 would disarm it
        spec = self._spec
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(ns, 1_000_000_000)
        if _LIBC.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    def disarm(self) -> None:
        """Cancel the pending deadline, if any."""
        if self._fd < 0:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            return
        _LIBC.timerfd_settime(self._fd, 0, ctypes.byref(_Itimerspec()), None)

    def _expired(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            return  # re-armed after it became readable: not due any more
        self._callback()

    def close(self) -> None:
        """Stop watching and release the timerfd."""
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._fd >= 0:
            with contextlib.suppress(ValueError, RuntimeError):  # the loop may be closed
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1


class PreciseSelector(selectors.EpollSelector):
    """An epoll selector that wakes on a timerfd for sub-millisecond timeouts."""

    def __init__(self) -> None:
        super().__init__()
        if _LIBC is None:
            raise OSError("timerfd is not available on this platform")
        fd = int(_LIBC.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC))
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self._tfd = fd
        self._armed = False
        self._epoll: Any = self._selector  # type: ignore[attr-defined]
        self._epoll.register(fd, select.EPOLLIN)

    def _arm(self, timeout: float) -> None:
        ns = max(1, int(timeout * 1e9))  # 0 would disarm the timer
        spec = _Itimerspec()
        spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(ns, 1_000_000_000)
        if _LIBC.timerfd_settime(self._tfd, 0, ctypes.byref(spec), None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self._armed = True

    def _disarm(self) -> None:
        if self._armed:
            spec = _Itimerspec()
            _LIBC.timerfd_settime(self._tfd, 0, ctypes.byref(spec), None)
            self._armed = False

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            self._disarm()
            poll_timeout = -1.0
        elif timeout <= 0:
            poll_timeout = 0.0
        else:
            self._arm(timeout)
            poll_timeout = -1.0  # the timerfd wakes us
        max_ev = max(len(self.get_map()), 1) + 1
        ready: list[tuple[selectors.SelectorKey, int]] = []
        try:
            fd_event_list = self._epoll.poll(poll_timeout, max_ev)
        except InterruptedError:
            return ready
        for fd, event in fd_event_list:
            if fd == self._tfd:
                with contextlib.suppress(BlockingIOError):
                    os.read(fd, 8)
                self._armed = False
                continue
            events = 0
            if event & ~select.EPOLLIN:
                events |= selectors.EVENT_WRITE
            if event & ~select.EPOLLOUT:
                events |= selectors.EVENT_READ
            key = self._key_from_fd(fd)  # type: ignore[attr-defined]
            if key:
                ready.append((key, events & key.events))
        return ready

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(self._tfd)
        os.close(self._tfd)
        super().close()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """An asyncio loop whose timers fire within microseconds (see module docstring).

    Falls back to `asyncio.new_event_loop()` where timerfd is unavailable.
    """
    if precise_timers_available():
        return asyncio.SelectorEventLoop(PreciseSelector())
    log.warning("timerfd unavailable: timers have epoll's 1 ms resolution")
    return asyncio.new_event_loop()


@dataclass(frozen=True)
class LatenessSnapshot:
    """Lateness of scheduled sends (ms): count, mean, p50, p99, max (negative = early)."""

    count: int
    mean_ms: float
    p50_ms: float
    p99_ms: float
    max_ms: float


class LatenessHistogram:
    """Actual − scheduled times in 10 µs bins up to 1 s (later ones land in the last bin)."""

    BIN_S = 10e-6
    BINS = 100_000

    def __init__(self) -> None:
        self._counts = [0] * self.BINS
        self._n = 0
        self._sum = 0.0
        self._max = -math.inf

    def record(self, late_s: float) -> None:
        """Record one send that happened ``late_s`` seconds after its due time."""
        self._n += 1
        self._sum += late_s
        if late_s > self._max:
            self._max = late_s
        i = int(late_s / self.BIN_S) if late_s > 0 else 0
        self._counts[min(i, self.BINS - 1)] += 1

    def merge(self, other: LatenessHistogram) -> None:
        """Add ``other``'s records to this one."""
        for i, c in enumerate(other._counts):
            if c:
                self._counts[i] += c
        self._n += other._n
        self._sum += other._sum
        self._max = max(self._max, other._max)

    def _quantile_s(self, q: float) -> float:
        target = q * self._n
        seen = 0
        for i, c in enumerate(self._counts):
            seen += c
            if c and seen >= target:
                return (i + 1) * self.BIN_S  # upper edge: never flatters
        return self.BINS * self.BIN_S

    def snapshot(self) -> LatenessSnapshot:
        """Figures so far, in ms (percentiles are bin upper edges, 10 µs resolution)."""
        if self._n == 0:
            return LatenessSnapshot(0, 0.0, 0.0, 0.0, 0.0)
        return LatenessSnapshot(
            count=self._n,
            mean_ms=self._sum / self._n * 1e3,
            p50_ms=self._quantile_s(0.50) * 1e3,
            p99_ms=self._quantile_s(0.99) * 1e3,
            max_ms=self._max * 1e3,
        )
