"""What an attacker at the login form can cost the site, and whom they can slow down.

Every ``POST /login`` passes three layers (``search_api.routes.auth`` wires them):

1. ``LoginGate.admit(address)`` — in memory, per process, before the form is even read: a
   token bucket per client (``LABOURKB_LOGIN_BURST_PER_ADDRESS`` attempts, refilled at
   ``LABOURKB_LOGIN_RATE_PER_ADDRESS`` a minute; an IPv6 client is its /64) and one bucket for
   all clients together (``LABOURKB_LOGIN_BURST_TOTAL``, refilled at
   ``LABOURKB_LOGIN_RATE_TOTAL`` a second). A refused attempt is answered with 429 and
   ``Retry-After``, without hashing anything: at once the first time; a client that comes
   straight back, ignoring ``Retry-After``, has its next refusals held ``TARPIT_SECONDS``
   first (at most ``MAX_HELD`` at a time, a sleep that costs no CPU), so a flood of
   refusals cannot keep the event loop busy either.
2. ``LoginGate.run`` — the password check (argon2, ~0.3 s of one core) runs in a small
   process-wide thread pool (``LABOURKB_LOGIN_HASH_THREADS``), never on the event loop, with at
   most ``MAX_PENDING`` checks queued; its threads run at a lower CPU priority (Linux), so
   searches come first when the cores are busy.
3. ``LoginThrottle`` — in the app store, so shared by every app server: failed logins per
   (user name as typed, client network: /24 for IPv4, /64 for IPv6). After ``FREE_FAILURES``
   failures that network waits ``FIRST_DELAY`` seconds before its next attempt on that name,
   doubling with each further failure up to ``MAX_DELAY``. It keys on the typed name whether
   or not the account exists, so a delay says nothing about which names exist, and it never
   locks the account itself: the owner logging in from another network is not slowed by
   someone else's failures.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from search_api import db

T = TypeVar("T")

FREE_FAILURES = 5
FIRST_DELAY = 60.0
MAX_DELAY = 3600.0
FORGET_AFTER = 24 * 3600.0  # a (name, network) quiet this long starts again from zero
MAX_PENDING = 8  # password checks queued or running per process before refusing outright
TARPIT_SECONDS = 2.0  # a refusal to a client that ignored the last Retry-After is held this long
MAX_HELD = 256  # refusals held at once (beyond that they are answered at once)
HASH_THREAD_NICENESS = 10
MAX_CLIENTS = 10_000  # per-client buckets kept in memory (least recently used dropped first)

# ---- client address → network ----------------------------------------------------------


def client_network(address: str | None) -> str:
    """The network a client address belongs to: ``a.b.c.0/24`` for IPv4, the /64 for IPv6.

    An IPv4-mapped IPv6 address counts as IPv4. Anything that is not an IP address (no
    peer, a test client's name) is returned as it is, so it is still one "network".
    """
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return (address or "unknown").strip() or "unknown"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def client_key(address: str | None) -> str:
    """What the per-client bucket counts: an IPv4 address itself, or an IPv6 client's /64
    (one subscriber usually holds a whole /64, so single IPv6 addresses are free to change)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return (address or "unknown").strip() or "unknown"
    if ip.version == 6:
        return str(ip.ipv4_mapped) if ip.ipv4_mapped is not None else client_network(str(ip))
    return str(ip)


# ---- layer 1 and 2: admission and the hashing pool ---------------------------------------


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second."""

    __slots__ = ("capacity", "rate", "refused_until", "stamp", "tokens")

    def __init__(self, capacity: float, rate: float, now: float):
        self.capacity, self.rate = float(capacity), float(rate)
        self.tokens, self.stamp = float(capacity), now
        self.refused_until = 0.0  # the Retry-After last given to this client

    def take(self, now: float) -> float:
        """Take one token: 0 when granted, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else 3600.0


@dataclass
class Refusal:
    """Why an attempt was refused before any password check, and when to come back."""

    message: str
    retry_after: int
    hold: float = 0.0  # seconds to wait before answering (the client ignored Retry-After)


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def hash_pool(threads: int) -> ThreadPoolExecutor:
    """The process-wide pool that runs password checks (one per size, shared by all apps)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(
                max_workers=threads, thread_name_prefix="login-hash", initializer=_lower_priority
            )
        return pool


def _lower_priority() -> None:
    """Let the hashing thread yield the CPU to everything else (Linux: a thread is a task)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


class LoginGate:
    """Admission control for login attempts (see the module docstring).

    Its token buckets and hashing pool are in memory, per process: with several app servers
    each admits its own burst and rate (a client spread over N servers gets up to N times
    the per-client allowance). The failed-login counts of ``LoginThrottle`` behind it are in
    the app store, so every app server shares them: a network's delay on a name holds
    whichever server the next attempt reaches.
    """

    def __init__(
        self,
        per_address_burst: int,
        per_address_per_minute: float,
        total_burst: int,
        total_per_second: float,
        hash_threads: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.per_address_burst = per_address_burst
        self.per_address_rate = per_address_per_minute / 60.0
        self.clock = clock
        self.total = TokenBucket(total_burst, total_per_second, clock())
        self.clients: OrderedDict[str, TokenBucket] = OrderedDict()
        self.pool = hash_pool(hash_threads)
        self.pending = 0
        self.held = 0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> LoginGate:
        return cls(
            settings.login_burst_per_address,
            settings.login_rate_per_address,
            settings.login_burst_total,
            settings.login_rate_total,
            settings.login_hash_threads,
        )

    def admit(self, address: str | None) -> Refusal | None:
        """None when the attempt may go on to a password check, else why not (nothing hashed)."""
        now = self.clock()
        key = client_key(address)
        with self._lock:
            bucket = self.clients.get(key)
            if bucket is None:
                bucket = self.clients[key] = TokenBucket(self.per_address_burst, self.per_address_rate, now)
                while len(self.clients) > MAX_CLIENTS:
                    self.clients.popitem(last=False)
            else:
                self.clients.move_to_end(key)
            wait = bucket.take(now)
            if wait:
                message = "登录尝试过于频繁，请 {} 秒后再试。"
            else:
                wait = self.total.take(now)
                if not wait and self.pending < MAX_PENDING:
                    return None
                # Give this client its token back: the refusal is the server's load, not theirs.
                bucket.tokens = min(bucket.capacity, bucket.tokens + 1)
                wait = max(wait, 1.0)
                message = "当前登录请求过多，请 {} 秒后再试。"
            ignored_retry_after = now < bucket.refused_until
            bucket.refused_until = max(bucket.refused_until, now + wait)
            hold = TARPIT_SECONDS if ignored_retry_after and self.held < MAX_HELD else 0.0
            return Refusal(message.format(_seconds(wait)), _seconds(wait), hold)

    async def hold(self, refusal: Refusal) -> None:
        """Wait ``refusal.hold`` seconds before the refusal is answered (no CPU spent)."""
        if refusal.hold <= 0:
            return
        with self._lock:
            self.held += 1
        try:
            await asyncio.sleep(refusal.hold)
        finally:
            with self._lock:
                self.held -= 1

    async def run(self, check: Callable[[], T]) -> T:
        """Run a password check in the hashing pool, off the event loop."""
        with self._lock:
            self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, check)
        finally:
            with self._lock:
                self.pending -= 1


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


_GATE_LOCK = threading.Lock()


def login_gate(app) -> LoginGate:
    """The app's ``LoginGate`` (made on first use from ``app.state.settings``)."""
    gate = getattr(app.state, "login_gate", None)
    if gate is None:
        with _GATE_LOCK:
            gate = getattr(app.state, "login_gate", None)
            if gate is None:
                gate = app.state.login_gate = LoginGate.from_settings(app.state.settings)
    return gate


# ---- layer 3: growing delays per (name, network) -------------------------------------------


def throttle_key(username: str, network: str) -> str:
    """The stored key: neither the typed name nor the network is kept readable."""
    name = (username or "").strip().casefold()
    return hashlib.sha256(f"{name}\n{network}".encode()).hexdigest()


def delay_after(failures: int) -> float:
    """Seconds to wait after the ``failures``-th failure (0 while within the free ones)."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, FIRST_DELAY * 2 ** (failures - FREE_FAILURES))


class LoginThrottle:
    """The ``login_failures`` table of the app store (shared by every app server on it)."""

    def __init__(self, database: db.Database, clock: Callable[[], float] = time.time):
        self.database = database
        self.clock = clock

    def wait(self, username: str, network: str) -> float:
        """Seconds this network must still wait before trying this name again (0: go ahead)."""
        with self.database.connect() as conn:
            blocked_until = conn.scalar(
                "SELECT blocked_until FROM login_failures WHERE key = :key", {"key": throttle_key(username, network)}
            )
        return max(0.0, blocked_until - self.clock()) if blocked_until is not None else 0.0

    def failed(self, username: str, network: str) -> float:
        """Count a failure; returns the delay it sets (0 while within the free failures)."""
        key, now = throttle_key(username, network), self.clock()
        with self.database.transaction() as conn:  # read-modify-write: one writer at a time, on every server
            row = conn.row("SELECT failures, last_failure FROM login_failures WHERE key = :key", {"key": key})
            fresh = row is None or row["last_failure"] < now - FORGET_AFTER
            failures = 1 if fresh else row["failures"] + 1
            delay = delay_after(failures)
            conn.execute(
                "INSERT INTO login_failures (key, failures, last_failure, blocked_until)"
                " VALUES (:key, :failures, :now, :blocked_until)"
                " ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,"
                " last_failure = excluded.last_failure, blocked_until = excluded.blocked_until",
                {"key": key, "failures": failures, "now": now, "blocked_until": now + delay if delay else 0.0},
            )
        return delay

    def succeeded(self, username: str, network: str) -> None:
        """A right password from this network: its count for this name starts again."""
        with self.database.transaction(lock=False) as conn:  # one statement: needs no store-wide lock
            conn.execute("DELETE FROM login_failures WHERE key = :key", {"key": throttle_key(username, network)})

    def purge(self, now: float | None = None) -> int:
        """Forget (name, network) pairs quiet for ``FORGET_AFTER`` and no longer waiting."""
        now = self.clock() if now is None else now
        with self.database.transaction() as conn:
            return conn.execute(
                "DELETE FROM login_failures WHERE last_failure < :quiet_since AND blocked_until < :now",
                {"quiet_since": now - FORGET_AFTER, "now": now},
            ).rowcount
