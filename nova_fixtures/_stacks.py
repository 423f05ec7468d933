"""Other threads' stacks, read without making frame objects for them.

Walking another thread's stack (``sys._current_frames()`` and ``f_back``)
makes a frame object for each of its frames. On CPython 3.12 that was seen
to crash the process at exit, in the garbage collector, after the clock's
close report walked the stacks of multiprocessing queue feeder threads (a
``BytesIO`` buffer in a local); no walk, no crash (60 runs each way).
``faulthandler`` reads the interpreter's frames directly, so reports take
other threads' stacks from its dump.
"""

from __future__ import annotations

import faulthandler
import re
import tempfile

__all__ = ['Entry', 'all_stacks']

#: (file name, line number, function name).
Entry = tuple[str, int, str]

_THREAD = re.compile(r'^(?:Current thread|Thread) (0x[0-9a-f]+) ')
_FRAME = re.compile(r'^  File "(.*)", line (\d+) in (.*)$')


def all_stacks() -> dict[int, list[Entry]]:
    """Every thread's stack, by ident, innermost frame first.

    As ``faulthandler`` dumps them: at most 100 frames a thread and 100
    threads.
    """
    with tempfile.TemporaryFile('w+') as dump:
        faulthandler.dump_traceback(dump, all_threads=True)
        dump.seek(0)
        text = dump.read()
    stacks: dict[int, list[Entry]] = {}
    current: list[Entry] | None = None
    for line in text.splitlines():
        thread = _THREAD.match(line)
        if thread is not None:
            current = stacks.setdefault(int(thread.group(1), 16), [])
            continue
        frame = _FRAME.match(line)
        if frame is not None and current is not None:
            current.append((frame.group(1), int(frame.group(2)),
                            frame.group(3)))
    return stacks
