"""Error types shared by the library, the CLI and the app.

try: analyze(path, model)
except BadInput as err: print(err)   # one clear line for the user
"""


class BadInput(ValueError):
    """The user's input (video, dataset, checkpoint, option) cannot be used; the message says why."""
