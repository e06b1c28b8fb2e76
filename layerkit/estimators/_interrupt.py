"""Ctrl-C during fit stops training at the next batch boundary instead of mid-update."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """Yield a function telling whether Ctrl-C was pressed inside the block.

    In the main thread, SIGINT is caught and only recorded, so the training loop can
    finish the batch it is in and stop cleanly; the previous handler is restored on
    exit. Elsewhere (worker threads), a KeyboardInterrupt raised inside the block is
    caught and recorded the same way.
    """
    pressed = [False]

    def interrupted() -> bool:
        return pressed[0]

    def handler(signum: int, frame: Any) -> None:
        pressed[0] = True

    previous = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous = signal.signal(signal.SIGINT, handler)
    try:
        yield interrupted
    except KeyboardInterrupt:
        pressed[0] = True
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
