"""Journal entries drawn as a message sequence diagram, in text or HTML.

One column per participant, in order of first appearance: the sender of
each message (a server's name, else a thread's) and where it went (the
server it was addressed to, else its topic; for a reply, the caller). One
row per entry, an arrow from sender to receiver, with its number, its time
(`journal.time_offsets`) and its outcome. A message that never reached its
receiver ends in ``✗``; a timed-out one (``expired``, ``caller-timed-out``)
is also marked ``[timeout]``.
"""

from __future__ import annotations

import html
from typing import NamedTuple, Sequence

from fake_transport import journal

__all__ = ['render_html', 'render_text']

#: Outcomes of a message that did not reach its receiver.
FAILED = frozenset({'caller-gone', 'dropped', 'failed', 'lost',
                    'undeliverable', 'unroutable'})
#: Outcomes of a message that did not arrive in time.
TIMED_OUT = frozenset({'caller-timed-out', 'expired'})

_NO_MESSAGES = '(no messages)'


class _Row(NamedTuple):
    seq: int
    offset: str
    source: int
    target: int
    label: str
    note: str
    missed: bool


def _rows(entries: Sequence[journal.JournalEntry]
          ) -> tuple[list[str], list[_Row]]:
    callers: dict[str, str] = {}
    for entry in entries:
        if entry.kind == 'call':
            callers.setdefault(entry.msg_id, entry.sender)
    names: dict[str, int] = {}
    rows = []
    for entry, offset in zip(entries, journal.time_offsets(entries)):
        if entry.kind == 'reply':
            to = callers.get(entry.msg_id, '?')
        else:
            to = entry.server or entry.topic
        source = names.setdefault(entry.sender, len(names))
        target = names.setdefault(to, len(names))
        if entry.kind == 'notification':
            label = f'notification {entry.method}'
        else:
            what = f'.{entry.method}' if entry.method else ''
            label = f'{entry.kind} {entry.topic}{what}'
        outcome = entry.outcome
        note = outcome
        if outcome in TIMED_OUT:
            note += ' [timeout]'
        elif outcome in FAILED:
            note += ' ✗'
        if entry.reason:
            note += f' ({entry.reason})'
        rows.append(_Row(entry.seq, offset, source, target, label, note,
                         outcome in FAILED or outcome in TIMED_OUT))
    return list(names), rows


def render_text(entries: Sequence[journal.JournalEntry]) -> str:
    """Return the entries as a text sequence diagram, one row per entry.

    A header row names the participants over their lifelines (``│``); each
    row reads ``#<seq> <time>  <arrow>  <outcome>``, the arrow labelled
    ``<kind> <topic>.<method>`` (``notification <event type>``), ending in
    ``▶`` / ``◀``, or ``✗`` when the message did not get there.

    Example::

        print(render_text(broker.journal.entries()))
    """
    names, rows = _rows(entries)
    if not rows:
        return _NO_MESSAGES
    width = max([len(n) for n in names] + [len(r.label) + 4 for r in rows])
    width += 2
    centres = [i * width + width // 2 for i in range(len(names))]
    seq_width = max(len(f'#{r.seq}') for r in rows)
    offset_width = max(len(r.offset) for r in rows)
    margin = ' ' * (seq_width + offset_width + 4)

    def lifelines() -> list[str]:
        line = [' '] * (centres[-1] + 1)
        for centre in centres:
            line[centre] = '│'
        return line

    header = [' '] * (len(names) * width)
    for name, centre in zip(names, centres):
        start = centre - len(name) // 2
        header[start:start + len(name)] = name
    lines = [margin + ''.join(header), margin + ''.join(lifelines())]
    drawn = []
    for row in rows:
        line = lifelines()
        a, b = centres[row.source], centres[row.target]
        if a == b:
            text = f'├─{row.label}─╯'
            line[a:a + len(text)] = text
        else:
            left, right = min(a, b), max(a, b)
            line[left:right + 1] = '─' * (right - left + 1)
            head = '✗' if row.missed else ('▶' if b > a else '◀')
            line[a] = '├' if b > a else '┤'
            line[b] = head
            start = left + 1 + (right - left - 1 - len(row.label)) // 2
            line[start:start + len(row.label)] = row.label
        drawn.append(''.join(line))
    arrows_width = max(len(arrows) for arrows in drawn)
    for row, arrows in zip(rows, drawn):
        prefix = f'{"#" + str(row.seq):<{seq_width}}  ' \
                 f'{row.offset:>{offset_width}}  '
        lines.append(f'{prefix}{arrows:<{arrows_width}}  {row.note}')
    return '\n'.join(line.rstrip() for line in lines)


# NOTE(diagram): geometry of the SVG, in pixels; text is monospace, about
# 7.2 px a character at 12 px.
_CHAR = 7.2
_ROW = 28
_TOP = 56


def render_html(entries: Sequence[journal.JournalEntry],
                title: str = 'Message sequence') -> str:
    """Return a self-contained HTML page drawing the entries as an SVG.

    The same diagram as `render_text`: no script, style sheet or font is
    fetched. Arrows of messages that did not get there are red and end in
    ``✗``; timed-out ones are orange.

    :param title: the page's title and heading.
    """
    names, rows = _rows(entries)
    esc = html.escape
    label_chars = max([len(n) for n in names] +
                      [len(r.label) + 4 for r in rows] + [12])
    column = round(label_chars * _CHAR) + 24
    left = round(max([len(f'#{r.seq}  {r.offset}') for r in rows] +
                     [0]) * _CHAR) + 24
    note_x = left + column * len(names)
    note_chars = max([len(r.note) for r in rows] + [0])
    width = note_x + round(note_chars * _CHAR) + 24
    height = _TOP + _ROW * (len(rows) + 1)
    parts = [
        '<!DOCTYPE html>',
        '<html><head><meta charset="utf-8">',
        f'<title>{esc(title)}</title></head>',
        '<body style="font-family: monospace">',
        f'<h1 style="font-size: 16px">{esc(title)}</h1>',
    ]
    if not rows:
        parts.append(f'<p>{esc(_NO_MESSAGES)}</p>')
    else:
        parts += [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" font-family="monospace" font-size="12">',
            '<defs><marker id="head" viewBox="0 0 10 10" refX="10" '
            'refY="5" markerWidth="8" markerHeight="8" orient="auto">'
            '<path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
        ]
        centres = [left + i * column + column // 2 for i in range(len(names))]
        for name, x in zip(names, centres):
            parts.append(f'<text x="{x}" y="20" text-anchor="middle" '
                         f'font-weight="bold">{esc(name)}</text>')
            parts.append(f'<line x1="{x}" y1="28" x2="{x}" '
                         f'y2="{height - 8}" stroke="#999" '
                         f'stroke-dasharray="4,3"/>')
        for i, row in enumerate(rows):
            y = _TOP + _ROW * i + _ROW // 2
            colour = ('#c00' if row.missed and '[timeout]' not in row.note
                      else '#d70' if row.missed else '#000')
            a, b = centres[row.source], centres[row.target]
            parts.append(f'<text x="8" y="{y + 4}">'
                         f'{esc(f"#{row.seq}  {row.offset}")}</text>')
            if a == b:
                parts.append(f'<path d="M{a},{y - 6} h24 v12 h-24" '
                             f'fill="none" stroke="{colour}"/>')
                parts.append(f'<text x="{a + 30}" y="{y + 4}" '
                             f'fill="{colour}">{esc(row.label)}</text>')
            else:
                end = (f'<text x="{b}" y="{y + 5}" text-anchor="middle" '
                       f'fill="{colour}" font-size="16">✗</text>'
                       if row.missed else '')
                head = '' if row.missed else ' marker-end="url(#head)"'
                parts.append(f'<line x1="{a}" y1="{y}" x2="{b}" y2="{y}" '
                             f'stroke="{colour}"{head}/>{end}')
                parts.append(f'<text x="{(a + b) // 2}" y="{y - 4}" '
                             f'text-anchor="middle" fill="{colour}">'
                             f'{esc(row.label)}</text>')
            parts.append(f'<text x="{note_x}" y="{y + 4}" '
                         f'fill="{colour}">{esc(row.note)}</text>')
        parts.append('</svg>')
    parts.append('</body></html>')
    return '\n'.join(parts) + '\n'
