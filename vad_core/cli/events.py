"""`python -m vad_core events list|show|export|review`: the event store from the command line.

    python -m vad_core events list --source cam3 --review new --since 2024-05-01 --json
    python -m vad_core events show 12 --thumbnail peak.png
    python -m vad_core events export 12 13 --out clips          # clips/event-12.mp4, ..., clips/events.csv
    python -m vad_core events review 12 13 --as false_alarm --note "a delivery van"

Every action takes --events-url (default VAD_EVENTS_URL, else the data folder's SQLite file). `list --json` prints a
JSON list of events, each with id, source, kind, start, end (null while open), peak, review and the rest of the
record. An unknown event, a bad URL or a database that is not an event store is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from vad_core.cli.common import about
from vad_core.cli.options import COUNT, utc_time
from vad_core.errors import BadInput

if TYPE_CHECKING:
    from vad_core.events.store import Event, EventStore


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("events", help="list, show, export and review the stored events")
    actions = p.add_subparsers(dest="action", required=True, parser_class=type(p))
    listing = _action(actions, "list", "events, newest first")
    listing.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    listing.add_argument("--kind", action="append", default=[], help="anomaly, frozen, covered or moved (repeatable)")
    listing.add_argument("--review", action="append", default=[], help="new, confirmed or false_alarm (repeatable)")
    listing.add_argument("--since", type=utc_time, default=None, help="started at or after this ISO time (UTC)")
    listing.add_argument("--until", type=utc_time, default=None, help="started before this ISO time (UTC)")
    listing.add_argument("--limit", type=COUNT, default=100, help="at most this many events (100)")
    listing.add_argument("--json", action="store_true", help="a JSON list on stdout")
    show = _action(actions, "show", "one event")
    show.add_argument("id", type=COUNT)
    show.add_argument("--json", action="store_true", help="a JSON object on stdout")
    show.add_argument("--thumbnail", default=None, metavar="FILE", help="write its thumbnail (PNG) to FILE")
    export = _action(actions, "export", "events' clips and a table of them into a folder")
    export.add_argument("ids", type=COUNT, nargs="+", metavar="ID")
    export.add_argument("--out", required=True, help="folder for event-ID.mp4 and events.csv")
    review = _action(actions, "review", "mark events confirmed, false_alarm or new")
    review.add_argument("ids", type=COUNT, nargs="+", metavar="ID")
    review.add_argument("--as", dest="review", required=True, help="new, confirmed or false_alarm")
    review.add_argument("--note", default=None, help="replace their note")


def _action(actions: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    p = actions.add_parser(name, help=text)
    p.add_argument("--events-url", default=None, help="the store (default: VAD_EVENTS_URL, else the data folder's)")
    return p


def run(args: argparse.Namespace) -> int:
    from vad_core.events.store import EventStore

    store = EventStore.open(args.events_url)
    try:
        return {"list": _list, "show": _show, "export": _export, "review": _review}[args.action](store, args)
    finally:
        store.close()


def _list(store: EventStore, args: argparse.Namespace) -> int:
    from vad_core.events.store import EventFilter, check_review

    with about("review"):
        reviews = [check_review(review) for review in args.review]
    which = EventFilter(args.source, args.kind, reviews, args.since, args.until, args.limit)
    events = store.events(which)
    if args.json:
        print(json.dumps([event.to_dict() for event in events]))
        return 0
    for event in events:
        print(_line(event))
    if not events:
        print("no events")
    return 0


def _line(event: Event) -> str:
    end = event.end if event.end is not None else "(open)"
    when = f"  {event.started_at:%Y-%m-%d %H:%M:%S}" if event.started_at is not None else ""
    return f"{event.id:>6}  {event.source}  {event.kind}  frames {event.start}-{end}  peak {event.peak:.2f}  " \
           f"{event.review}{when}"  # fmt: skip


def _show(store: EventStore, args: argparse.Namespace) -> int:
    event = store.event(args.id)
    if args.thumbnail:
        if event.thumbnail is None:
            raise BadInput(f"event {event.id} has no thumbnail", option="thumbnail")
        Path(args.thumbnail).write_bytes(event.thumbnail)
    details = event.to_dict() | {"excerpt_folder": str(folder) if (folder := store.excerpt_folder(event)) else None}
    print(json.dumps(details) if args.json else "\n".join(f"{k}: {v}" for k, v in details.items()))
    return 0


def _export(store: EventStore, args: argparse.Namespace) -> int:
    from vad_core.events.export import CSV_FILE, export_events
    from vad_core.io.paths import writable_folder

    out = writable_folder(args.out)
    clips = export_events(store, args.ids, out)
    print(f"wrote {len(clips)} clips of {len(set(args.ids))} events and {out / CSV_FILE}")
    return 0


def _review(store: EventStore, args: argparse.Namespace) -> int:
    from vad_core.events.store import check_review

    with about("as"):
        check_review(args.review)
    for event_id in args.ids:
        store.event(event_id)  # BadInput for an id it does not hold, before anything changes
    changed = store.set_review(args.ids, args.review, args.note)
    print(f"{changed} events marked {args.review}")
    return 0
