"""What the tests share, grouped by use: paths, cli, apptest, browser, corpus, hostile, live, batch (and rtsp_server,
a script run by the system Python). Test modules import from here, never from each other or from a conftest."""
