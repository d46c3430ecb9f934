"""Error types shared by the library, the CLI and the app, and the one way a user's JSON is parsed.

try: analyze(path, model)
except BadInput as err: print(err)   # one clear line for the user
doc = parse_json(path.read_bytes(), path.name)   # BadInput for broken, non-UTF-8 or absurdly nested JSON
"""

from __future__ import annotations

import json


class BadInput(ValueError):
    """The user's input (video, dataset, checkpoint, option) cannot be used; the message says why.

    option: the setting the message is about (a config field such as "workers"), where it is one; a front end
    names it its own way (the CLI as --workers), so the library's message never spells a flag.
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


def parse_json(data: bytes | str, what: str) -> object:
    """The document in data; BadInput naming `what` when it is not JSON a program can hold.

    Besides syntax errors this covers text that is not UTF-8, integers too long for Python to convert, and
    nesting so deep (``[[[[...]]]]``) that the parser runs out of stack: the recursion limit is not raised.
    """
    try:
        return json.loads(data)
    except RecursionError:
        raise BadInput(f"{what} is nested too deeply to be read as JSON") from None
    except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
        raise BadInput(f"{what} is not valid JSON ({err})") from err
